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


def cpu_has_bf16() -> bool:
    """Whether the CPU computes in bf16 natively (AVX-512 BF16 or AMX): where bf16 autocast pays."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def machine_info() -> dict:
    flags = cpu_flags()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "cores": usable, "logical_cpus": os.cpu_count(),
            "flags": [flag for flag in INTERESTING_FLAGS if flag in flags],
            "python": platform.python_version(), "platform": platform.platform()}


def cpu_ticks() -> tuple[int, int] | None:
    """(ticks stolen by the hypervisor, all ticks) summed over every CPU since boot, from the first
    line of /proc/stat; None where it cannot be read. The difference of two readings gives the share
    of CPU time a virtual machine did not get during that interval."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    # counted in user and nice, so the total stops at steal.
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    ticks = [int(value) for value in fields[1:9]]
    return ticks[7], sum(ticks)


def steal_fraction(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of CPU time stolen between two `cpu_ticks()` readings; None without both."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])
