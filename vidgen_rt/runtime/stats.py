"""Latency statistics of generated frames, the one helper every Python stepper and the benchmark use.

`latency_summary` takes its percentiles the way the native runtime does (native/src/stats.cpp: the
sorted sample at index floor(q * n)), so a Python stepper's `stats()` and a native stream's can be
set side by side. `FrameTimes` keeps the newest frames' step / decode / total times and turns them
into the dict shape of the native `Stream.stats()`.
"""

from __future__ import annotations

import collections

import numpy as np

WINDOW = 1024  # newest frames kept, as the native runtime's stats ring (native/src/stats.hpp)
PERCENTILES = (50, 90, 99)


def latency_summary(values_ms) -> dict:
    """mean, p50, p90, p99 and max of latencies in milliseconds (all 0.0 when there are none)."""
    values = np.sort(np.asarray(values_ms, dtype=np.float64).reshape(-1))
    if values.size == 0:
        return {"mean_ms": 0.0, **{f"p{q}_ms": 0.0 for q in PERCENTILES}, "max_ms": 0.0}
    ranked = {f"p{q}_ms": float(values[min(values.size - 1, int(q / 100 * values.size))]) for q in PERCENTILES}
    return {"mean_ms": float(values.mean()), **ranked, "max_ms": float(values[-1])}


class FrameTimes:
    """Step, decode and end-to-end times of the newest `WINDOW` frames of one stepper."""

    def __init__(self):
        self.frames = 0
        self._samples: collections.deque = collections.deque(maxlen=WINDOW)  # (end s, step, decode, total ms)

    def record(self, began: float, stepped: float, ended: float) -> None:
        """One frame from three `time.perf_counter()` readings: start, step done, decode done."""
        self._samples.append((ended, (stepped - began) * 1e3, (ended - stepped) * 1e3, (ended - began) * 1e3))
        self.frames += 1

    def stats(self) -> dict:
        """{frames, dropped_frames, window, fps, step, decode, total}, as the native `Stream.stats()`."""
        samples = list(self._samples)
        span = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
        columns = list(zip(*samples)) if samples else [(), (), (), ()]
        return {"frames": self.frames, "dropped_frames": 0, "window": len(samples),
                "fps": (len(samples) - 1) / span if span > 0 else 0.0,
                "step": latency_summary(columns[1]), "decode": latency_summary(columns[2]),
                "total": latency_summary(columns[3])}
