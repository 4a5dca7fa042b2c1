"""What machine a benchmark ran on: CPU model, core counts and the instruction-set flags that decide
which kernels run (AVX-512, VNNI, AMX, bf16), recorded with every result."""

from __future__ import annotations

import os
import platform
from pathlib import Path

INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8",
                     "amx_bf16", "amx_fp16")


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags (/proc/cpuinfo), empty where they cannot be read."""
    return set((_cpuinfo_field("flags") or "").split())


def machine_info() -> dict:
    flags = cpu_flags()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "cores": usable, "logical_cpus": os.cpu_count(),
            "flags": [flag for flag in INTERESTING_FLAGS if flag in flags],
            "python": platform.python_version(), "platform": platform.platform()}
