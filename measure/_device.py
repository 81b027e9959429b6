"""What a profile records about the machine it was measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["device_info", "nchwc_block"]


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
    flags = _cpu_flags(cpuinfo)
    vector = next((flag for flag in ("avx512f", "avx2") if flag in flags), None)
    if vector:
        info["vector_isa"] = vector
    governor = _read(os.path.join(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"))
    if governor:
        info["governor"] = governor
    return info


def _cpu_flags(cpuinfo: str) -> set:
    line = next((line for line in cpuinfo.splitlines() if line.lower().startswith("flags")), "")
    return set(line.split(":", 1)[1].split()) if ":" in line else set()


#: onnxruntime's MLAS picks its NCHWc block by the widest vector unit it finds (MlasNchwcGetBlockSize): 16 floats
#: (one 512-bit register) with AVX-512F, 8 (one 256-bit register) with AVX2; without either it has no blocked layout.
_NCHWC_BLOCK = {"avx512f": 16, "avx2": 8}


def nchwc_block(info: dict) -> int | None:
    """The NCHWc block (floats) onnxruntime uses on the machine ``info`` (:func:`device_info`) describes, or None.

    >>> nchwc_block({"machine": "x86_64", "vector_isa": "avx512f"}), nchwc_block({"machine": "aarch64"})
    (16, None)
    """
    if str(info.get("machine", "")).lower() not in ("x86_64", "amd64"):
        return None
    return _NCHWC_BLOCK.get(info.get("vector_isa"))
