"""`OrtPythonStream`: the native `Stream`'s verbs over the Python reference driver (`OrtStepper`),
so the viewer can run a bundle with `--backend ort-python` where libvidgen_rt is not built, and
compare the two.

The asynchronous mode is a Python thread: it takes the next queued action (holding the last one when
the queue is empty), steps, and publishes the frame as the newest; a frame replaced before the
viewer took it counts as dropped. ONNX Runtime releases the GIL while it runs, so the window stays
responsive. Post-processing is the native runtime's (C++) and is not offered here.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from vidgen_rt.errors import ConfigError

STATS_WINDOW = 120


def _percentiles(values) -> dict:
    if not values:
        return {}
    array = np.asarray(values) * 1000
    return {"mean_ms": float(array.mean()), "p50_ms": float(np.percentile(array, 50)),
            "p90_ms": float(np.percentile(array, 90)), "p99_ms": float(np.percentile(array, 99)),
            "max_ms": float(array.max())}


class OrtPythonStream:
    def __init__(self, bundle, threads: int | None = None):
        from vidgen_rt.runtime.ort_stepper import OrtStepper

        self.stepper = OrtStepper(bundle, batch=1, threads=threads)
        self.batch = 1
        self.default_action = int(self.stepper.bundle.manifest["actions"].get("default", 0))
        self._lock = threading.Lock()          # stepper state
        self._queue: collections.deque = collections.deque(maxlen=256)
        self._latest = None
        self._held = self.default_action
        self._index = 0
        self._thread = None
        self._stop = threading.Event()
        self._fps = 0.0
        self._times: collections.deque = collections.deque(maxlen=STATS_WINDOW)  # (end time, seconds)
        self._frames = self._dropped = 0
        self._error: Exception | None = None

    def reset(self, frames=None, actions=None) -> np.ndarray:
        if self.running:
            raise ConfigError("reset while the stream runs asynchronously; stop it first")
        with self._lock:
            self._index = 0
            return self.stepper.reset(frames, actions)

    def step(self, action, cond=None, guide=None) -> np.ndarray:
        began = time.perf_counter()
        with self._lock:
            frame = self.stepper.step(action)
            self._index += 1
            self._held = int(np.asarray(action).reshape(-1)[0])
        self._count(began)
        return frame

    def _count(self, began: float) -> None:
        now = time.perf_counter()
        self._times.append((now, now - began))
        self._frames += 1

    def snapshot(self):
        with self._lock:
            return self.stepper.snapshot(), self._index, self._held

    def restore(self, snapshot) -> None:
        state, index, held = snapshot
        with self._lock:
            self.stepper.restore(state)
            self._index, self._held = index, held

    def set_postprocess(self, **params) -> None:
        raise ConfigError("post-processing runs in the native runtime; use --backend native")

    def start(self, fps: float | None = None) -> None:
        if self.running:
            return
        self._fps = float(fps or 0.0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ort-python-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._queue.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def push_action(self, action) -> None:
        self._queue.append(int(np.asarray(action).reshape(-1)[0]))

    def latest(self):
        if self._error is not None:
            raise ConfigError(f"the generation thread stopped: {self._error}")
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    def stats(self) -> dict:
        times = list(self._times)
        span = times[-1][0] - times[0][0] if len(times) > 1 else 0.0
        return {"frames": self._frames, "dropped_frames": self._dropped, "window": len(times),
                "fps": (len(times) - 1) / span if span > 0 else 0.0,
                "total": _percentiles([seconds for _, seconds in times])}

    def close(self) -> None:
        self.stop()

    def _run(self) -> None:
        deadline = time.perf_counter()
        while not self._stop.is_set():
            if self._queue:
                self._held = self._queue.popleft()
            began = time.perf_counter()
            try:
                with self._lock:
                    frame = self.stepper.step(self._held)
                    self._index += 1
                    if self._latest is not None:
                        self._dropped += 1
                    self._latest = (self._index, frame)
            except Exception as error:  # reported to the viewer by latest()
                self._error = error
                return
            self._count(began)
            if self._fps > 0:
                deadline = max(deadline + 1 / self._fps, time.perf_counter() - 1 / self._fps)
                self._stop.wait(max(0.0, deadline - time.perf_counter()))
