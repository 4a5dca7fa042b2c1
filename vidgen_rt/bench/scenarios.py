"""The three MLPerf LoadGen-style scenarios, run over every backend in one process.

Measurement: each backend opens a run of B players, warms up on its own, then all backends take
turns in round-robin chunks of frames (the first backend of a round changes every round), so a load
change on the machine hits every backend alike; each turn opens with `turn_warmup` untimed frames,
so the samples are steady-state frames, not the first frames after another backend ran (with one
untimed frame, the second frame of a turn was still a millisecond slow and made most of a row's
p99: docs/performance.md, attempt 13). A sample
is one batched frame: end to end as the caller sees it, plus the step / decode split from the
stepper's own statistics.

- `single`: one stream (batch 1); latency percentiles and fps.
- `multi`: batch sizes in increasing order; a backend holds B players when each gets the target fps
  and the p99 of a frame's latency is within the frame budget (1000 / target ms; for a pipelined
  backend its step-start-to-handover latency, longer than its frame interval). `players` is the largest B
  held (0 when not even one); a backend stops at the first B it fails.
- `offline`: every batch size; the best aggregate frames/s.

Every row carries its FLOPs per player frame (the flow head's K sample steps included), the fraction
of the measured matmul peak, and its per-frame floor and the fraction of it reached (`floor.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from vidgen_rt.bench.backends import NOCACHE, summarize
from vidgen_rt.bench.floor import floor_fields, frame_work

SCENARIOS = ("single", "multi", "offline")


@dataclass
class Settings:
    frames: int = 300         # measured frames per backend and batch size
    warmup: int = 20
    chunk: int = 50           # frames per backend per round-robin turn
    turn_warmup: int = 4      # untimed frames that open each turn (docs/performance.md, attempt 13)
    target_fps: float = 30.0
    seed: int = 0
    quiet: bool = False


class Scenario:
    """Runs one scenario; `results` rows for the JSON, `latencies` (backend -> ms) for the plot."""

    def __init__(self, name: str, backends, batches: list[int], n_actions: int, model_info: dict,
                 peaks: dict, bandwidth_gbs: float, settings: Settings):
        self.name, self.batches, self.n_actions = name, sorted(batches), n_actions
        self.backends = [b for b in backends if b.skipped is None]
        self.skipped = [b for b in backends if b.skipped is not None]
        self.model_info, self.peaks, self.bandwidth_gbs, self.settings = model_info, peaks, bandwidth_gbs, settings
        self.latencies: dict[str, list[float]] = {}
        self.bar = None

    def run(self) -> list[dict]:
        with tqdm(total=0, desc=f"bench {self.name}", unit="frame", disable=self.settings.quiet) as self.bar:
            rows = {"single": self._single, "multi": self._multi, "offline": self._offline}[self.name]()
        return rows + [skipped_row(b) for b in self.skipped]

    def _single(self) -> list[dict]:
        measured = self._measure(self.backends, 1)
        return [self._row(backend, run, 1) for backend, run in measured]

    def _multi(self) -> list[dict]:
        budget_ms = 1000.0 / self.settings.target_fps
        alive, best, sweeps = list(self.backends), {}, {b.label: [] for b in self.backends}
        for batch in self.batches:
            if not alive:
                break
            for backend, run in self._measure(alive, batch):
                row = self._row(backend, run, batch)
                # The budget bounds a frame's latency: for a pipelined backend that is longer than
                # the interval between its frames, so its own latency p99 decides.
                p99_ms = row.get("latency", row)["p99_ms"]
                holds = p99_ms <= budget_ms and row["fps_per_player"] >= self.settings.target_fps
                sweeps[backend.label].append({"batch": batch, "fps_per_player": row["fps_per_player"],
                                             "p99_ms": p99_ms, "holds": holds})
                if holds or backend.label not in best:
                    best[backend.label] = {**row, "players": batch if holds else 0}
                    self.latencies[backend.label] = list(run.samples["total"])
                if not holds:
                    alive.remove(backend)
        return [{**best[b.label], "budget_ms": round(budget_ms, 3), "target_fps": self.settings.target_fps,
                 "sweep": sweeps[b.label]} for b in self.backends]

    def _offline(self) -> list[dict]:
        best, sweeps = {}, {b.label: [] for b in self.backends}
        for batch in self.batches:
            for backend, run in self._measure(self.backends, batch):
                row = self._row(backend, run, batch)
                sweeps[backend.label].append({"batch": batch, "fps": row["fps"], "p99_ms": row["p99_ms"]})
                if backend.label not in best or row["fps"] > best[backend.label]["fps"]:
                    best[backend.label] = row
                    self.latencies[backend.label] = list(run.samples["total"])
        return [{**best[b.label], "sweep": sweeps[b.label]} for b in self.backends]

    def _measure(self, backends, batch: int) -> list:
        """Open every backend at `batch`, warm each up, then run them interleaved; returns
        [(backend, run)] with the runs' samples (runs closed)."""
        s = self.settings
        actions = np.random.default_rng(s.seed).integers(0, self.n_actions, (s.warmup + s.frames, batch))
        self.bar.total += len(backends) * (s.warmup + s.frames)
        self.bar.set_postfix_str(f"batch {batch}")
        runs = []
        try:
            for backend in backends:
                run = backend.open(batch)
                runs.append((backend, run))
                with run.turn():
                    for row in actions[:s.warmup]:
                        run.frame(row)
                run.mark()
                self.bar.update(s.warmup)
            for turn, start in enumerate(range(s.warmup, len(actions), s.chunk)):
                chunk = actions[start:start + s.chunk]
                for index in range(len(runs)):
                    _, run = runs[(index + turn) % len(runs)]
                    with run.turn():  # an asynchronous run generates only during its turn
                        # Untimed frames first: after another backend's turn the caches are cold
                        # and a pipelined run's pipeline is empty; a host playing continuously
                        # pays that once, the interleaving at every turn.
                        for row in chunk[:s.turn_warmup]:
                            run.frame(row, record=False)
                        for row in chunk:
                            run.frame(row)
                    self.bar.update(len(chunk))
        finally:
            for _, run in runs:
                run.finish()
        if self.name == "single":
            for backend, run in runs:
                self.latencies[backend.label] = list(run.samples["total"])
        return runs

    def _row(self, backend, run, batch: int) -> dict:
        total = summarize(run.samples["total"])
        fps = batch * 1000.0 / total["mean_ms"]
        nocache = backend.name == NOCACHE
        flops, _ = frame_work(self.model_info, backend.precision, 1, backend.sampling_steps, nocache)
        gflops = round(flops / 1e9, 6)
        peak = self.peaks.get(backend.precision)
        row = {"backend": backend.name, "precision": backend.precision, "batch": batch,
               "fps": round(fps, 2), "fps_per_player": round(fps / batch, 2),
               "p50_ms": total["p50_ms"], "p90_ms": total["p90_ms"], "p99_ms": total["p99_ms"],
               "mean_ms": total["mean_ms"], "frames": len(run.samples["total"]),
               "gflops_per_frame": gflops, "achieved_gflops": round(fps * gflops, 3),
               "roofline_fraction": None if peak is None else round(fps * gflops / peak, 5),
               **floor_fields(self.model_info, backend.precision, batch, backend.sampling_steps, nocache,
                              peak, self.bandwidth_gbs, total["mean_ms"])}
        if run.split is not None:
            row.update(run.split)
        return {**row, **_steps(backend), **backend.details}


def skipped_row(backend) -> dict:
    return {"backend": backend.name, "precision": backend.precision, "skipped": backend.skipped, **_steps(backend),
            "fps": None, "p50_ms": None, "p90_ms": None, "p99_ms": None, "roofline_fraction": None,
            "floor_ms": None, "floor_fps": None, "floor_fraction": None, "floor_bound": None}


def _steps(backend) -> dict:
    return {} if backend.sampling_steps is None else {"sampling_steps": backend.sampling_steps}
