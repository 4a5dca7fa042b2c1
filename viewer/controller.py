"""`StreamController`: what the viewer does with a stepper, apart from drawing — pacing, pause,
single step, rewind, reset, post-processing presets, a flow head's temperature and recording. No
windowing or GL here, so any host can reuse it. It shows player 0 of the stepper's batch.

Two pacings:
- asynchronous (interactive play on the native runtime): the stream generates on its own thread
  (`start(fps)`), the controller pushes the action only when it changes (the stream holds the last
  action; a key tapped between two steps still gets its step because pushes queue in order), and
  `poll()` takes the newest frame if there is one. Asynchronous play is the native runtime's job;
- lockstep (scripted play, `--frames` / `--actions`, and any stepper without an asynchronous mode,
  such as `--backend ort-python`): `poll()` steps synchronously with the current action, so
  generated frame i always used action i and runs are reproducible.

A guided world (a flow-guided one steered by motion, docs/own-video.md) takes a guide map every
step: `set_guide` gives the one to use from the next frame on, passed with each synchronous step or
handed to the asynchronous stream, which feeds it to every step until the next change.

Rewind: every `snapshot_every` generated frames the stream's state (KV ring, lags, latents) is saved
with a copy of the frame shown at that moment; snapshots older than `rewind_seconds` are dropped once
a newer one also covers that horizon, so at least that much history is kept. Each rewind goes back
one snapshot. In lockstep the saved frame is exactly the state's frame; asynchronously the stream may
be a frame or two past the frame shown when the snapshot was taken.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from pathlib import Path

import numpy as np

from vidgen_rt.errors import ConfigError, VidgenError

ENHANCED = {"brightness": 0.02, "contrast": 1.15, "gamma": 0.9, "sharpen": 0.6}
TEMPERATURE_STEP = 0.1  # one key press; the stream options allow 0..4 (docs/architecture.md §4)
MAX_TEMPERATURE = 4.0


class Recorder:
    """Streams frames into an .mp4 (PyAV via vidgen_rt.media.write_video) from a writer thread;
    the file appears, complete, when `close()` returns."""

    def __init__(self, path, fps: float, height: int):
        from vidgen_rt.media import write_video

        self.path = Path(path)
        self.frames = 0
        self._queue: queue.Queue = queue.Queue(maxsize=512)
        self._error: Exception | None = None
        upscale = max(1, 256 // max(height, 1))  # tiny worlds stay watchable

        def frames():
            while (frame := self._queue.get()) is not None:
                yield frame

        def write():
            try:
                write_video(frames(), self.path, fps=fps, upscale=upscale)
            except Exception as error:  # reported by close()
                self._error = error
                while self._queue.get() is not None:
                    pass

        self._thread = threading.Thread(target=write, name="recorder", daemon=True)
        self._thread.start()

    def add(self, frame: np.ndarray) -> None:
        self._queue.put(np.array(frame[..., :3]))
        self.frames += 1

    def close(self) -> Path:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise VidgenError(f"recording {self.path} failed: {self._error}")
        return self.path


class StreamController:
    def __init__(self, stepper, default_action: int = 0, lockstep: bool = False, fps: float | None = None,
                 snapshot_every: int = 15, rewind_seconds: float = 10.0, postprocess: dict | None = None,
                 temperature: float = 1.0, sampling_steps: int = 1):
        if not lockstep and not callable(getattr(stepper, "push_action", None)):
            raise ConfigError(f"{type(stepper).__name__} has no asynchronous mode (the native runtime's): "
                              f"play it in lockstep")
        self.stepper, self.lockstep, self.fps = stepper, lockstep, fps
        self.snapshot_every, self.rewind_seconds = max(1, snapshot_every), rewind_seconds
        self.action = default_action
        self.guide: np.ndarray | None = None  # (batch, G, H, W) for a guided world, set before start
        self.temperature, self.sampling_steps = float(temperature), int(sampling_steps)  # as the stepper has them
        self.presets = [dict(postprocess or {}), ENHANCED]
        self.preset = 0
        self.history: collections.deque = collections.deque()  # (time, index, snapshot, frame)
        self.recorder: Recorder | None = None
        self.paused = False
        self.generated = 0                      # frames generated and shown since the start
        self.frame = np.asarray(stepper.reset())[0]
        self.index = 0                           # frames since the last reset or rewind target
        self._since_snapshot = 0
        self._pushed: int | None = None
        self._save_snapshot()
        self._started = False

    @property
    def running(self) -> bool:
        return self._started and not self.lockstep and not self.paused

    def start(self) -> None:
        """Begin generating (asynchronous pacing); call when the display loop starts."""
        self._started = True
        if self.running:
            self._start()

    def _start(self) -> None:
        if self.guide is not None:
            self.stepper.set_conditions(guide=self.guide)
        self.stepper.start(self.fps)
        self.stepper.push_action(self.action)
        self._pushed = self.action

    def _halt(self) -> None:
        """Stop the generation thread and forget a frame it published but nobody took."""
        self.stepper.stop()
        self.stepper.latest()

    def set_action(self, action: int) -> None:
        self.action = int(action)
        if self.running and self.action != self._pushed:
            self.stepper.push_action(self.action)
            self._pushed = self.action

    def set_guide(self, guide: np.ndarray) -> None:
        """The guide map (G, H, W) of every player's next frames; a guided world needs one before
        the first frame and keeps it until the next call (call it when the guide changes)."""
        guide = np.asarray(guide, np.float32)
        self.guide = np.ascontiguousarray(np.broadcast_to(guide, (self.stepper.batch, *guide.shape)))
        if self.running:
            self.stepper.set_conditions(guide=self.guide)

    def _step(self) -> np.ndarray:
        return np.asarray(self.stepper.step(self.action, guide=self.guide))[0]

    def poll(self) -> bool:
        """Advance to a new frame when there is one (lockstep: step now); True when `frame` changed."""
        if self.lockstep:
            if self.paused:
                return False
            self._accept(self._step())
            return True
        latest = self.stepper.latest() if self.running else None
        if latest is None:
            return False
        self._accept(np.asarray(latest[1])[0])
        return True

    def _accept(self, frame: np.ndarray) -> None:
        self.frame = frame
        self.index += 1
        self.generated += 1
        if self.recorder is not None:
            self.recorder.add(frame)
        self._since_snapshot += 1
        if self._since_snapshot >= self.snapshot_every:
            self._save_snapshot()

    def _save_snapshot(self) -> None:
        now = time.monotonic()
        self.history.append((now, self.index, self.stepper.snapshot(), np.array(self.frame)))
        self._since_snapshot = 0
        while len(self.history) > 2 and now - self.history[1][0] >= self.rewind_seconds:
            self.history.popleft()

    def toggle_pause(self) -> None:
        if self.paused:
            self.paused = False
            if self.running:
                self._start()
        else:
            if self.running:
                self._halt()
            self.paused = True

    def single_step(self) -> bool:
        """One synchronous step with the current action while paused."""
        if not self.paused:
            return False
        self._accept(self._step())
        return True

    def rewind(self) -> int | None:
        """Go back one snapshot; returns how many frames back, or None without history."""
        while self.history and self.history[-1][1] >= self.index and len(self.history) > 1:
            self.history.pop()  # taken at (or after) the frame on screen: go further back
        if not self.history or self.history[-1][1] > self.index:
            return None
        _, index, snapshot, frame = self.history[-1]
        resume = self.running
        if resume:
            self._halt()
        self.stepper.restore(snapshot)
        back, self.index, self.frame = self.index - index, index, frame.copy()
        self._since_snapshot = 0
        if resume:
            self._start()
        return back

    def reset(self) -> None:
        resume = self.running
        if resume:
            self._halt()
        self.frame, self.index = np.asarray(self.stepper.reset())[0], 0
        self.history.clear()
        self._save_snapshot()
        if resume:
            self._start()

    def cycle_postprocess(self) -> dict:
        """Switch between the bundle's post-processing and an enhanced preset; returns the new one."""
        preset = self.presets[(self.preset + 1) % len(self.presets)]
        if not callable(getattr(self.stepper, "set_postprocess", None)):
            raise ConfigError("post-processing runs in the native runtime; play with --backend native")
        self.stepper.set_postprocess(**preset)
        self.preset = (self.preset + 1) % len(self.presets)
        return preset

    def change_temperature(self, steps: int) -> float:
        """Raise (steps > 0) or lower a flow head's noise temperature by TEMPERATURE_STEP per step,
        within 0..MAX_TEMPERATURE; the stream uses it from its next frame. Returns the new value."""
        value = min(MAX_TEMPERATURE, max(0.0, round(self.temperature + steps * TEMPERATURE_STEP, 6)))
        self.stepper.set_sampling(temperature=value)
        self.temperature = value
        return value

    def start_recording(self, path, fps: float) -> None:
        self.recorder = Recorder(path, fps, self.frame.shape[0])
        self.recorder.add(self.frame)

    def stop_recording(self) -> Path | None:
        recorder, self.recorder = self.recorder, None
        return recorder.close() if recorder is not None else None

    def close(self) -> Path | None:
        try:
            if self.running:
                self.stepper.stop()
            return self.stop_recording()
        finally:
            self.stepper.close()
