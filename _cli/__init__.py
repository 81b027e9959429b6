"""The command line's commands, one module per area; ``cli.py`` builds the app from them and owns the exit codes.

Each module defines plain typer command functions and ``register(app)``. A command parses its
options, calls one function of the public API (``_api``) or of a package, and formats the result
with the helpers of ``_common``. Nothing here is imported by the library.
"""
