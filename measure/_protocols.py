"""The seams of measurement, as Protocols: what a runner and a power source must offer.

A new runtime (a vendor SDK, a board reached over a network) is a :class:`Runner`; a new power
meter, clock or temperature reader is a :class:`PowerSource`. The harness, calibration, sweeps and
on-device validation use nothing else of them, and tests pass in simulated ones.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._sources import Reading

__all__ = ["Runnable", "Runner", "PowerSource"]


@runtime_checkable
class Runnable(Protocol):
    """A model loaded with its inputs ready: one call of :meth:`run` is one inference."""

    def run(self) -> None: ...


@runtime_checkable
class Runner(Protocol):
    """Loads models into a runtime on this device (``OnnxRuntimeRunner``, ``TfliteRunner``, ``TorchRunner``)."""

    name: str

    def settings(self) -> dict:
        """What a profile and a sweep's record say about the runtime (name, version, threads, ...)."""
        ...

    def load(self, model, *, input_shapes: dict | None = None) -> Runnable:
        """``model`` (a path, or serialized bytes) loaded and fed seeded inputs."""
        ...


@runtime_checkable
class PowerSource(Protocol):
    """Reads power, energy, temperature and clocks (``NullSource``, ``Ina3221Source``, ``RaplSource``, ...)."""

    def read(self) -> Reading:
        """One reading now: rails (mW), cumulative energy (mJ), zones (C), clocks (MHz), all optional."""
        ...

    def describe(self) -> dict:
        """What the source is and measures (``{"source": NAME, "power": bool, ...}``)."""
        ...
