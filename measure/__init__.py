"""Measurement on real devices (sweeps, runners, power/thermal sources, fitting).

Not built yet: the calibration issue adds it. Nothing here is imported by
``import edgeperf``.
"""

__all__: list[str] = []
