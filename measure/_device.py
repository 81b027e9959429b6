"""What a profile records about the machine it was measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["device_info"]


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def device_info(root: str = "/") -> dict:
    """CPU model, core count and clocks where readable (Linux sysfs/procfs below ``root``)."""
    cpuinfo = _read(os.path.join(root, "proc/cpuinfo")) or ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.lower().startswith(("model name", "hardware", "cpu model"))), platform.processor() or "")
    info = {"cpu": model, "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.system()}
    freq = _read(os.path.join(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq"))
    if freq and freq.isdigit():
        info["cpu_max_mhz"] = int(freq) / 1000.0  # cpufreq reports kHz
    governor = _read(os.path.join(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"))
    if governor:
        info["governor"] = governor
    return info
