"""The backends `vidgen bench` compares, each measured as a `BackendRun`: B players stepped together,
timed per batched frame (end to end as the caller sees it, in milliseconds, with the step / decode
split from the stepper's own statistics).

Every backend but the no-cache baseline is a stepper from `vidgen_rt.open_stepper`, stepped as any
host steps it:
- `torch-eager`: PyTorch's cached step (`TorchStepper`: step + KV ring push, then decode), fp32;
- `torch-bf16`: the same under `torch.autocast("cpu", torch.bfloat16)`;
- `torch-eager-nocache` (`--no-cache`): no KV ring; every frame runs the parallel training forward
  over the last `window` frames and keeps the last frame's prediction;
- `ort-python`: the reference driver `OrtStepper` (numpy + ONNX Runtime from Python);
- `native`, `native-int8`: libvidgen_rt on the fp32 / int8 bundle, synchronous `step` (step, then
  decode, per call); `native-trt`: its TensorRT backend;
- `native-openvino`, `native-openvino-bf16`: libvidgen_rt's OpenVINO backend on the fp32 bundle,
  computing in fp32 / in bf16 (OpenVINO's inference precision; the row's precision, so its floor is
  the bf16 one); skipped with the reason where OpenVINO cannot load;
- `native-async`, `native-int8-async`, `native-openvino-async`, `native-openvino-bf16-async`: the
  same in the runtime's asynchronous mode, as a game
  host plays it: a generation thread steps as fast as it can while a decode thread decodes the
  previous frame, each stage's thread pool getting half the cores. The host pushes one action
  and waits for the next frame (`wait_frame`), so its samples are frame intervals (the frame rate a
  host gets); the latency of a frame, step start to frame handed over, comes from the runtime's
  stats (`latency` in the breakdown).

Conditioned worlds get zero cond vectors and guide maps for the generated frames: the cost of a step
does not depend on their values. A world with a flow head runs every backend once per number of
sampling steps K asked for (`--sampling-steps 1,2,4`; default: the world's K), at the `--temperature`
given (the noise's scale; its cost does not depend on it); rows carry `sampling_steps`.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vidgen_rt.errors import VidgenError
from vidgen_rt.runtime.factory import NATIVE_CPU_BACKENDS, open_stepper
from vidgen_rt.runtime.stats import latency_summary

BACKENDS = ("torch-eager", "torch-bf16", "ort-python", "native", "native-int8", "native-async", "native-int8-async",
            "native-openvino", "native-openvino-bf16", "native-openvino-async", "native-openvino-bf16-async",
            "native-trt")
ASYNC_WAIT_S = 10.0  # a frame later than this means the generation thread is stuck or failed
DEFAULT_BACKENDS = ("torch-eager", "torch-bf16", "ort-python", "native")
NOCACHE = "torch-eager-nocache"
SUMMARY_KEYS = ("mean_ms", "p50_ms", "p90_ms", "p99_ms")


class BackendRun(abc.ABC):
    """B players of one backend under measurement. `frame(actions)` makes one frame per player and
    records its time; `mark()` (after warm-up) forgets what was recorded so far."""

    def __init__(self, batch: int):
        self.batch = batch
        self.samples = {"total": []}
        self.split = None  # breakdown() as it was when the run finished

    def frame(self, actions: np.ndarray, record: bool = True) -> None:
        began = time.perf_counter()
        self._frame(actions)
        if record:
            self.samples["total"].append((time.perf_counter() - began) * 1000.0)

    @contextlib.contextmanager
    def turn(self):
        """While the run has the machine to itself; one with threads of its own runs them only here."""
        yield

    @abc.abstractmethod
    def _frame(self, actions: np.ndarray) -> None:
        """One frame for every player, (B,) actions."""

    def mark(self) -> None:
        for values in self.samples.values():
            values.clear()

    @abc.abstractmethod
    def breakdown(self) -> dict:
        """Step and decode latency summaries (and more where the backend has them)."""

    def finish(self) -> None:
        """Keep the breakdown, then release what the run holds."""
        self.split = self.breakdown()
        self.close()

    def close(self) -> None:
        pass


def summarize(values_ms) -> dict:
    """The summary a report row shows, rounded for the JSON (runtime/stats.py computes it)."""
    summary = latency_summary(values_ms)
    return {key: round(summary[key], 4) for key in SUMMARY_KEYS}


def _zeros_conditions(m, batch: int) -> tuple:
    """Zero cond (B, Dc) and guide (B, G, H, W) of a ModelConfig `m`, None where it takes none."""
    cond = np.zeros((batch, m.cond_dim), np.float32) if m.cond_dim else None
    guide = np.zeros((batch, m.guide_channels, m.frame_height, m.frame_width), np.float32) if m.guide_channels else None
    return cond, guide


class StepperRun(BackendRun):
    """A stepper from `open_stepper`, seeded with the workload's context; its own statistics give
    the step / decode split. `mark()` opens a fresh stepper on the same loaded engine, so those
    statistics hold measured frames only."""

    parts = {"step": "step", "decode": "decode"}  # breakdown name -> the stepper's stats entry

    def __init__(self, opener: Callable, batch: int, context: dict, model_config):
        super().__init__(batch)
        self.opener, self.context = opener, context
        self.conditions = _zeros_conditions(model_config, batch)
        self.stepper = self._open()

    def _open(self):
        stepper = self.opener(self.batch)
        c = self.context
        stepper.reset(c["frames"], c["actions"], c.get("cond"), c.get("guide"))
        return stepper

    def _frame(self, actions):
        self.stepper.step(actions, *self.conditions)

    def mark(self) -> None:
        super().mark()
        self.stepper.close()
        self.stepper = self._open()

    def breakdown(self) -> dict:
        stats = self.stepper.stats()
        return {name: {key: round(stats[part][key], 4) for key in SUMMARY_KEYS} for name, part in self.parts.items()}

    def close(self) -> None:
        self.stepper.close()


class AsyncNativeRun(StepperRun):
    """A native stepper in asynchronous mode: push one action, wait for the next frame."""

    parts = {**StepperRun.parts, "latency": "total"}

    @contextlib.contextmanager
    def turn(self):
        if self.conditions[0] is not None or self.conditions[1] is not None:
            self.stepper.set_conditions(*self.conditions)
        self.stepper.wait_frame(0.0)  # a frame left from the last turn (or the context frame)
        self.stepper.start()
        try:
            yield
        finally:
            self.stepper.stop()

    def _frame(self, actions):
        self.stepper.push_action(actions)
        if self.stepper.wait_frame(ASYNC_WAIT_S) is None:
            raise VidgenError(f"no frame from the asynchronous stream within {ASYNC_WAIT_S} s")


class WindowRecomputeRun(BackendRun):
    """No cache: the parallel forward over the last `window` frames, keeping the last prediction.
    Not a stepper (it has no KV ring), so it times its own step / decode split."""

    def __init__(self, model, context: dict, batch: int):
        import torch

        super().__init__(batch)
        self.samples.update(step=[], decode=[])
        self.model, self.torch = model, torch
        window = model.config.window
        latents = model.encode_frames(context["frames"][-window:])  # (K, C, h, w)
        self.latents = latents.unsqueeze(0).expand(batch, *latents.shape).contiguous()  # (B, K, C, h, w)
        # Per-step inputs between the K frames: (B, K-1[, ...]) each, or None.
        self.inputs = [_per_player(torch, None if context.get(key) is None else context[key][-(window - 1):], batch)
                       for key in ("actions", "cond", "guide")]
        self.new_conditions = tuple(None if value is None else torch.from_numpy(value)
                                    for value in _zeros_conditions(model.config, batch))
        self.current = self.latents[:, -1]

    def _frame(self, actions):
        torch = self.torch
        began = time.perf_counter()
        new = [torch.from_numpy(actions), *self.new_conditions]
        with torch.no_grad():
            steps = [None if old is None else torch.cat([old, value.unsqueeze(1)], dim=1)  # (B, K, ...)
                     for old, value in zip(self.inputs, new)]
            predicted = self.model.dynamics(self.latents, *steps)  # (B, K, C, h, w)
            self.current = predicted[:, -1]
            self.latents = torch.cat([self.latents[:, 1:], self.current.unsqueeze(1)], dim=1)
            self.inputs = [None if s is None else s[:, 1:] for s in steps]
        stepped = time.perf_counter()
        self.model.decode_latents(self.current)
        self.samples["step"].append((stepped - began) * 1000.0)
        self.samples["decode"].append((time.perf_counter() - stepped) * 1000.0)

    def breakdown(self) -> dict:
        return {part: summarize(self.samples[part]) for part in ("step", "decode")}


@dataclass
class Backend:
    """A named way to run the model: `open(batch)` gives a BackendRun."""
    name: str
    precision: str
    open: Callable[[int], BackendRun] | None = None
    skipped: str | None = None             # why it did not run, when it did not
    details: dict = field(default_factory=dict)
    sampling_steps: int | None = None      # a flow head's K; None for an mse head

    @property
    def label(self) -> str:
        """Unique within a run: the name, with K when the head samples."""
        return self.name if self.sampling_steps is None else f"{self.name} K={self.sampling_steps}"


def build_backends(names, workload, threads: int, no_cache: bool, sampling_steps=None,
                   temperature: float = 1.0) -> list[Backend]:
    """Backends in the order asked (the no-cache one after torch-eager), a flow-head world's once per
    K in `sampling_steps` (default: its own K; an mse world has none); those that cannot run here come
    back with `skipped` set instead of failing the benchmark."""
    wanted = list(names) + ([NOCACHE] if no_cache else [])
    model = workload.config.model
    steps = list(sampling_steps or [model.sampling_steps]) if model.head != "mse" else [None]
    backends = []
    for name in wanted:
        for k in ([None] if name == NOCACHE else steps):
            try:
                backend = _backend(name, workload, threads, {"sampling_steps": k, "temperature": temperature})
                backend.sampling_steps = k
                backends.append(backend)
            except VidgenError as error:
                prefix = "TensorRT not available: " if name == "native-trt" else ""
                backends.append(Backend(name, _row_precision(name), skipped=f"{prefix}{error}", sampling_steps=k))
    return backends


def _backend(name: str, workload, threads: int, sampling: dict) -> Backend:
    model_config = workload.config.model
    if name in ("torch-eager", "torch-bf16", NOCACHE):
        loaded = workload.model
        context = workload.context()
        if name == NOCACHE:
            return Backend(name, "fp32", lambda batch: WindowRecomputeRun(loaded[0], context, batch))
        precision = "bf16" if name == "torch-bf16" else "fp32"
        opener = functools.partial(open_stepper, loaded, "torch", precision=precision, **sampling)
        return Backend(name, precision, lambda batch: StepperRun(opener, batch, context, model_config))
    if name == "ort-python":
        bundle = _bundle_for(workload, "fp32")
        opener = functools.partial(open_stepper, bundle, "ort-python", intra_op_threads=threads, **sampling)
        return Backend(name, _precision(bundle),
                       lambda batch: StepperRun(opener, batch, workload.context(), model_config))
    if name.startswith("native"):
        pipelined = name.endswith("-async")
        variant = name.removesuffix("-async")
        compute_precision = ""
        if name == "native-trt":
            bundle, kind = _tensorrt_bundle(workload), "tensorrt"
        elif variant in NATIVE_CPU_BACKENDS:
            bundle = _bundle_for(workload, "fp32")
            kind, compute_precision = NATIVE_CPU_BACKENDS[variant]
        else:
            bundle, kind = _bundle_for(workload, "int8"), "ort"
        if pipelined:  # two stages run at once: each gets half of the cores
            threads = max(1, (threads or os.cpu_count() or 2) // 2)
        with open_stepper(bundle, "native", 1, threads, native_backend=kind,
                          compute_precision=compute_precision) as first:
            runtime = first.runtime  # loaded once; every run opens its streams on it
        run = AsyncNativeRun if pipelined else StepperRun
        opener = functools.partial(open_stepper, runtime, "native", **sampling)
        return Backend(name, compute_precision or _precision(bundle),
                       lambda batch: run(opener, batch, workload.context(), model_config),
                       details={"backend_library": runtime.info.get("backend_library"),
                                "intra_op_threads": threads or "default"})
    raise ValueError(name)


def _row_precision(name: str) -> str:
    """The precision a backend's row reports before its bundle is known (a skipped row's)."""
    if name in ("native-int8", "native-int8-async"):
        return "int8"
    if name in ("torch-bf16", "native-openvino-bf16", "native-openvino-bf16-async"):
        return "bf16"
    return "fp16" if name == "native-trt" else "fp32"


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
