"""The ``edgeperf`` command line: the typer app, and the boundary where errors become exit codes.

The commands live in ``_cli/``, one module per area (estimate, profiles, zoo, measure, fit,
operating, search); each parses its options, calls one library function and formats the
result. Here they are put on one app, and :func:`main` turns library errors
(:class:`edgeperf.EdgeperfError`), usage errors and stray ``OSError``s into exit code 2 and one
short, printable line on stderr (passwords in URLs removed), never a traceback; SIGTERM unwinds
like Ctrl-C (exit 130); a measuring command whose measurements other load disturbed too much
(:class:`edgeperf.DisturbedError`) ends with exit code 3 and one line.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from ._cli._common import Group
from ._cli import _estimate, _fit, _measure, _operating, _profiles, _search, _zoo
from ._errors import DisturbedError, EdgeperfError
from ._messages import redact
from ._terminal import one_line
from ._userfile import os_error_message

app = typer.Typer(cls=Group, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Latency and energy of neural networks on edge boards.")
for _area in (_estimate, _profiles, _measure, _fit, _zoo, _operating, _search):   # the order of `edgeperf --help`
    _area.register(app)


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"edgeperf {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="Log what the library does to stderr (-v: steps, -vv: details)."),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Latency and energy of neural networks on edge boards."""
    if verbose:
        _log_to_stderr(logging.INFO if verbose == 1 else logging.DEBUG)


def _log_to_stderr(level: int) -> None:
    """Turn on the library's loggers (``edgeperf.*``) at ``level``, one line per record on stderr."""
    logger = logging.getLogger("edgeperf")
    if not any(getattr(h, "_edgeperf_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("edgeperf: %(levelname)s %(name)s: %(message)s"))
        handler._edgeperf_cli = True
        logger.addHandler(handler)
    logger.setLevel(level)


def _one_line(message) -> str:
    """The message as one short printable line, passwords in URLs removed."""
    return one_line(redact(str(message)), limit=1000)


def _during_interrupt(exc: BaseException) -> bool:
    """True when ``exc`` was raised while a KeyboardInterrupt was being handled (its context chain)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__ or exc.__cause__
    return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``edgeperf`` script; returns the exit code.

    Usage errors (an unknown option, a value of the wrong type) and library errors
    are printed here as one line with exit code 2.
    """
    previous = _terminate_as_interrupt()
    try:
        code = app(args=argv, prog_name="edgeperf", standalone_mode=False)
        if code == 130:           # typer turns Ctrl-C into exit status 130 without a word
            sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except DisturbedError as exc:   # the input was fine; the machine was too busy to measure it
        sys.stderr.write(f"{_one_line(exc)}\n")
        return 3
    except EdgeperfError as exc:
        sys.stderr.write(f"edgeperf: error: {_one_line(exc)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
        return 130
    except MemoryError:
        sys.stderr.write("edgeperf: error: out of memory; the input is too large for this machine\n")
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:       # a file the library did not anticipate: still the user's, still one line
        if _during_interrupt(exc):
            sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
            return 130
        where = exc.filename if exc.filename is not None else "a file"
        sys.stderr.write(f"edgeperf: error: {_one_line(os_error_message(exc, where, 'use'))}\n")
        return 2
    except RecursionError:
        sys.stderr.write("edgeperf: error: an input is nested too deeply to be read\n")
        return 2
    except Exception as exc:  # a usage error, or a bug: one line, the traceback only on request
        if _is_usage_error(exc):
            if type(exc).__name__ != "NoArgsIsHelpError":      # (that one has printed the help already)
                sys.stderr.write(f"edgeperf: error: {_one_line(exc.format_message())} ({_help_hint(exc)})\n")
            return exc.exit_code
        if type(exc).__name__ == "Abort":                      # end of input at a prompt, as Ctrl-C
            sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
            return 130
        if _during_interrupt(exc):   # cleanup code failing while Ctrl-C unwinds: still an interrupt
            sys.stderr.write("edgeperf: interrupted; what was measured or evaluated is kept, rerun to continue\n")
            return 130
        if os.environ.get("EDGEPERF_DEBUG"):
            raise
        sys.stderr.write(f"edgeperf: internal error: {type(exc).__name__}: {_one_line(exc)} "
                         "(set EDGEPERF_DEBUG=1 for the traceback, and please report it)\n")
        return 1
    finally:
        _restore(previous)
    return 0


def _is_usage_error(exc: Exception) -> bool:
    """A command-line parsing error of typer's (click's) own: it knows its message and exit code."""
    return callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int)


def _help_hint(exc: Exception) -> str:
    context = getattr(exc, "ctx", None)
    path = getattr(context, "command_path", None) or "edgeperf"
    return f"see {path} --help"


def _terminate_as_interrupt():
    """Make SIGTERM unwind like Ctrl-C (temporary files removed, workers stopped, exit 130); the old handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _restore(previous) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
