"""The backends `vidgen bench` compares, each as a `Player`: B streams stepped together, timed per
batched frame (step, decode and end to end, in milliseconds).

- `torch-eager`: what a user of the PyTorch model writes by hand, as the seed did: `WorldModel.advance`
  (cached step + KV ring push) then `decode_latents`, every frame, fp32;
- `torch-bf16`: the same loop under `torch.autocast("cpu", torch.bfloat16)`;
- `torch-eager-nocache` (`--no-cache`): no KV ring; every frame runs the parallel training forward
  over the last `window` frames and keeps the last frame's prediction;
- `ort-python`: the reference driver `OrtStepper` (numpy + ONNX Runtime from Python);
- `native`, `native-int8`: libvidgen_rt on the fp32 / int8 bundle, synchronous `step` (step, then
  decode, per call); `native-trt`: its TensorRT backend;
- `native-async`, `native-int8-async`: the same bundles in the runtime's asynchronous mode, as a game
  host plays it: a generation thread steps as fast as it can while a decode thread decodes the
  previous frame, each stage's ONNX Runtime pool getting half the cores. The host pushes one action
  and waits for the next frame (`wait_frame`), so its samples are frame intervals (the frame rate a
  host gets); the latency of a frame, step start to frame handed over, comes from the runtime's
  stats (`latency` in the breakdown).

Conditioned worlds get zero cond vectors and guide maps for the generated frames: the cost of a step
does not depend on their values.
"""

from __future__ import annotations

import abc
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vidgen_rt.errors import VidgenError

BACKENDS = ("torch-eager", "torch-bf16", "ort-python", "native", "native-int8", "native-async", "native-int8-async",
            "native-trt")
ASYNC_WAIT_S = 10.0  # a frame later than this means the generation thread is stuck or failed
DEFAULT_BACKENDS = ("torch-eager", "torch-bf16", "ort-python", "native")
NOCACHE = "torch-eager-nocache"


class Player(abc.ABC):
    """B streams of one backend. `frame(actions)` makes one frame per stream (`_step`, then `_decode`)
    and records its times; `mark()` (after warm-up) forgets what was recorded so far."""

    times_split = True  # False where step and decode run in one call (their split comes from elsewhere)

    def __init__(self, batch: int):
        self.batch = batch
        self.samples = {"total": [], "step": [], "decode": []}
        self.split = None  # breakdown() as it was when the player finished

    def frame(self, actions: np.ndarray, record: bool = True) -> None:
        began = time.perf_counter()
        self._step(actions)
        stepped = time.perf_counter()
        self._decode()
        ended = time.perf_counter()
        if not record:
            return
        self.samples["total"].append((ended - began) * 1000.0)
        if self.times_split:
            self.samples["step"].append((stepped - began) * 1000.0)
            self.samples["decode"].append((ended - stepped) * 1000.0)

    @contextlib.contextmanager
    def turn(self):
        """While the player has the machine to itself; one with threads of its own runs them only here."""
        yield

    @abc.abstractmethod
    def _step(self, actions: np.ndarray) -> None:
        """Predict the next latents of every stream (B,) actions."""

    def _decode(self) -> None:
        """Turn the newest latents into frames."""

    def mark(self) -> None:
        for values in self.samples.values():
            values.clear()

    def breakdown(self) -> dict | None:
        """Step and decode latency summaries, where known."""
        if not self.samples["step"]:
            return None
        return {part: summarize(self.samples[part]) for part in ("step", "decode")}

    def finish(self) -> None:
        """Keep the breakdown, then release what the player holds."""
        self.split = self.breakdown()
        self.close()

    def close(self) -> None:
        pass


def summarize(values_ms) -> dict:
    values = np.asarray(values_ms, dtype=np.float64)
    return {"mean_ms": round(float(values.mean()), 4),
            **{f"p{q}_ms": round(float(np.percentile(values, q)), 4) for q in (50, 90, 99)}}


def _zeros_conditions(m, batch: int) -> tuple:
    """Zero cond (B, Dc) and guide (B, G, H, W) of a ModelConfig `m`, None where it takes none."""
    cond = np.zeros((batch, m.cond_dim), np.float32) if m.cond_dim else None
    guide = np.zeros((batch, m.guide_channels, m.frame_height, m.frame_width), np.float32) if m.guide_channels else None
    return cond, guide


class TorchPlayer(Player):
    """`WorldModel.advance` + `decode_latents` per frame, as the seed's loop did."""

    def __init__(self, model, context: dict, batch: int, bf16: bool = False):
        import torch

        super().__init__(batch)
        self.model, self.bf16 = model, bf16
        self.torch = torch
        latents = model.encode_frames(context["frames"])  # (K, C, h, w)
        latents = latents.unsqueeze(0).expand(batch, *latents.shape).contiguous()  # (B, K, C, h, w)
        history = [_per_player(torch, context.get(key), batch) for key in ("actions", "cond", "guide")]
        self.ring, self.current = model.start(latents, *history)
        self.step_conditions = _zeros_conditions_torch(torch, model.config, batch)

    def _step(self, actions):
        torch = self.torch
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            self.current = self.model.advance(self.ring, self.current, torch.from_numpy(actions),
                                              *self.step_conditions)

    def _decode(self):
        with self.torch.autocast("cpu", dtype=self.torch.bfloat16, enabled=self.bf16):
            self.model.decode_latents(self.current)


class WindowRecomputePlayer(Player):
    """No cache: the parallel forward over the last `window` frames, keeping the last prediction."""

    def __init__(self, model, context: dict, batch: int):
        import torch

        super().__init__(batch)
        self.model, self.torch = model, torch
        window = model.config.window
        latents = model.encode_frames(context["frames"][-window:])  # (K, C, h, w)
        self.latents = latents.unsqueeze(0).expand(batch, *latents.shape).contiguous()  # (B, K, C, h, w)
        # Per-step inputs between the K frames: (B, K-1[, ...]) each, or None.
        self.inputs = [_per_player(torch, None if context.get(key) is None else context[key][-(window - 1):], batch)
                       for key in ("actions", "cond", "guide")]
        self.new_conditions = _zeros_conditions_torch(torch, model.config, batch)
        self.current = self.latents[:, -1]

    def _step(self, actions):
        torch = self.torch
        new = [torch.from_numpy(actions), *self.new_conditions]
        with torch.no_grad():
            steps = [None if old is None else torch.cat([old, value.unsqueeze(1)], dim=1)  # (B, K, ...)
                     for old, value in zip(self.inputs, new)]
            predicted = self.model.dynamics(self.latents, *steps)  # (B, K, C, h, w)
            self.current = predicted[:, -1]
            self.latents = torch.cat([self.latents[:, 1:], self.current.unsqueeze(1)], dim=1)
            self.inputs = [None if s is None else s[:, 1:] for s in steps]

    def _decode(self):
        self.model.decode_latents(self.current)


class OrtPlayer(Player):
    """The reference driver: `OrtStepper`'s step, then its decode, from Python."""

    def __init__(self, bundle, batch: int, threads: int):
        from vidgen_rt.runtime import OrtStepper

        super().__init__(batch)
        self.stepper = OrtStepper(bundle, batch=batch, threads=threads)
        self.stepper.reset()
        self.conditions = _zeros_conditions(self.stepper.bundle.config.model, batch)

    def _step(self, actions):
        # OrtStepper.step is advance + decode; calling the two halves times them apart.
        self.stepper.latents = self.stepper.advance(self.stepper.latents, actions, *self.conditions)

    def _decode(self):
        self.stepper.decode(self.stepper.latents)


class NativePlayer(Player):
    """A libvidgen_rt stream; step/decode come from the runtime's own stats (its newest 1024 frames)."""

    times_split = False
    stats_parts = {"step": "step", "decode": "decode"}  # breakdown name -> the runtime's stats entry

    def __init__(self, runtime, batch: int, conditions):
        super().__init__(batch)
        self.runtime, self.conditions = runtime, conditions
        self.stream = runtime.open_stream(batch)

    def _step(self, actions):
        self.stream.step(actions, *self.conditions)  # step and decode, in C++

    def mark(self) -> None:
        # A fresh stream on the warm model: its stats then hold measured frames only.
        super().mark()
        self.stream.close()
        self.stream = self.runtime.open_stream(self.batch)

    def breakdown(self) -> dict | None:
        stats = self.stream.stats()
        return {name: {key: round(stats[part][key], 4) for key in ("mean_ms", "p50_ms", "p90_ms", "p99_ms")}
                for name, part in self.stats_parts.items()}

    def close(self) -> None:
        self.stream.close()


class AsyncNativePlayer(NativePlayer):
    """A libvidgen_rt stream in asynchronous mode: push one action, wait for the next frame."""

    stats_parts = {**NativePlayer.stats_parts, "latency": "total"}

    @contextlib.contextmanager
    def turn(self):
        if self.conditions[0] is not None or self.conditions[1] is not None:
            self.stream.set_conditions(*self.conditions)
        self.stream.wait_frame(0.0)  # a frame left from the last turn (or the context frame)
        self.stream.start()
        try:
            yield
        finally:
            self.stream.stop()

    def _step(self, actions):
        self.stream.push_action(actions)
        if self.stream.wait_frame(ASYNC_WAIT_S) is None:
            raise VidgenError(f"no frame from the asynchronous stream within {ASYNC_WAIT_S} s")


@dataclass
class Backend:
    """A named way to run the model: `open(batch)` gives a Player."""
    name: str
    precision: str
    open: Callable[[int], Player] | None = None
    skipped: str | None = None             # why it did not run, when it did not
    details: dict = field(default_factory=dict)


def build_backends(names, workload, threads: int, no_cache: bool) -> list[Backend]:
    """Backends in the order asked (the no-cache one after torch-eager); those that cannot run here
    come back with `skipped` set instead of failing the benchmark."""
    wanted = list(names) + ([NOCACHE] if no_cache else [])
    backends = []
    for name in wanted:
        try:
            backends.append(_backend(name, workload, threads))
        except VidgenError as error:
            precision = {"native-int8": "int8", "native-int8-async": "int8", "torch-bf16": "bf16",
                         "native-trt": "fp16"}.get(name, "fp32")
            prefix = "TensorRT not available: " if name == "native-trt" else ""
            backends.append(Backend(name, precision, skipped=f"{prefix}{error}"))
    return backends


def _backend(name: str, workload, threads: int) -> Backend:
    if name in ("torch-eager", "torch-bf16", NOCACHE):
        model = workload.model[0]
        context = workload.context()
        if name == NOCACHE:
            return Backend(name, "fp32", lambda batch: WindowRecomputePlayer(model, context, batch))
        bf16 = name == "torch-bf16"
        return Backend(name, "bf16" if bf16 else "fp32", lambda batch: TorchPlayer(model, context, batch, bf16))
    if name == "ort-python":
        bundle = _bundle_for(workload, "fp32")
        return Backend(name, _precision(bundle), lambda batch: OrtPlayer(bundle, batch, threads))
    if name.startswith("native"):
        import vidgen_rt

        if name == "native-trt":
            bundle, kind = _tensorrt_bundle(workload), "tensorrt"
        else:
            bundle, kind = _bundle_for(workload, "int8" if "int8" in name else "fp32"), "ort"
        pipelined = name.endswith("-async")
        if pipelined:  # two stages run at once: each gets half of the cores
            threads = max(1, (threads or os.cpu_count() or 2) // 2)
        runtime = vidgen_rt.Runtime(bundle, threads=threads, backend=kind)
        model_config = workload.config.model
        player = AsyncNativePlayer if pipelined else NativePlayer
        return Backend(name, _precision(bundle),
                       lambda batch: player(runtime, batch, _zeros_conditions(model_config, batch)),
                       details={"backend_library": runtime.info.get("backend_library"),
                                "intra_op_threads": threads or "default"})
    raise ValueError(name)


def _bundle_for(workload, precision: str):
    """The given bundle when the source is one (whatever its precision), else an export of `precision`;
    int8 always gets an int8 bundle."""
    if workload.given is not None and (precision != "int8" or workload.given.manifest["precision"] == "int8"):
        return workload.given.path
    return workload.bundle(precision)


def _tensorrt_bundle(workload):
    """An fp16 bundle with engines for this GPU: the given one as it is, or an export with engines
    built here. The cheap checks come first, so a machine without TensorRT exports nothing."""
    import importlib.util

    import torch

    if importlib.util.find_spec("tensorrt") is None:
        raise VidgenError("the Python package 'tensorrt' is not installed (engines cannot be built)")
    if not torch.cuda.is_available():
        raise VidgenError("no CUDA GPU is visible to this process")
    if workload.given is not None and workload.given.manifest["precision"] == "fp16":
        return workload.given.path
    from vidgen_rt.export.tensorrt import build_engines

    bundle = workload.bundle("fp16")
    build_engines(bundle, quiet=True)
    return bundle


def _precision(bundle) -> str:
    import json
    from pathlib import Path

    return json.loads((Path(bundle) / "manifest.json").read_text())["precision"]


def _per_player(torch, array, batch: int):
    """Context array (K-1, ...) shared by every player -> tensor (B, K-1, ...), or None."""
    if array is None:
        return None
    tensor = torch.as_tensor(np.asarray(array))
    return tensor.unsqueeze(0).expand(batch, *tensor.shape).contiguous()


def _zeros_conditions_torch(torch, model_config, batch: int) -> tuple:
    return tuple(None if value is None else torch.from_numpy(value)
                 for value in _zeros_conditions(model_config, batch))
