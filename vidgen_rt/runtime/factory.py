"""`open_stepper`: the one way every consumer gets a stepper (docs/architecture.md §4).

    stepper = vidgen_rt.open_stepper("maze.vgrt")                       # native runtime, 1 player
    stepper = vidgen_rt.open_stepper("maze.vgrt", native_backend="openvino", compute_precision="bf16")
    stepper = vidgen_rt.open_stepper("maze.vgrt", "ort-python", batch=4)
    stepper = vidgen_rt.open_stepper("runs/tiny", "torch")              # a checkpoint or shipped world
    stepper = vidgen_rt.open_stepper((model, config, state), "torch", batch=8)  # a model already loaded

Backends: `native` (libvidgen_rt, C++; its Stream also runs asynchronously), `ort-python` (OrtStepper,
the numpy oracle) and `torch` (TorchStepper, PyTorch's cached step). A bundle runs on the first two,
a checkpoint on the last. `NativeStepper` puts the native `Stream` behind the Stepper interface: it
adds the world's `info` and the shared checks of actions and conditions before C++ sees them, and
hands every other verb (start, push_action, latest, wait_frame, stop, set_postprocess, ...) to the
Stream itself.
"""

from __future__ import annotations

from pathlib import Path

from vidgen_rt.errors import ConfigError
from vidgen_rt.runtime.stepper import Stepper, StepperInfo, check_sampling, check_step_conditions

BACKENDS = ("native", "ort-python", "torch")
# The native runtime's CPU backends by the name `vidgen play --backend` and `vidgen bench` rows use:
# (native_backend, compute_precision) for open_stepper.
NATIVE_CPU_BACKENDS = {"native": ("ort", ""), "native-openvino": ("openvino", ""),
                       "native-openvino-bf16": ("openvino", "bf16")}
# The same with the int8 bundle's row, as (bundle precision, native_backend, compute_precision).
NATIVE_BUNDLE_BACKENDS = {name: ("fp32", native, compute) for name, (native, compute) in NATIVE_CPU_BACKENDS.items()}
NATIVE_BUNDLE_BACKENDS["native-int8"] = ("int8", "ort", "")


def open_stepper(source, backend: str = "native", batch: int = 1, intra_op_threads: int | None = None, *,
                 allow_spinning: bool = True, provider: str = "cpu", native_backend: str = "ort",
                 compute_precision: str = "", precision: str = "fp32", seed: int = 0, temperature: float = 1.0,
                 sampling_steps: int | None = None) -> Stepper:
    """A stepper of `batch` players on `backend`.

    `source`: a bundle directory, a packed bundle file (NAME.vgrtpack: native) or a loaded `Bundle`
    (native, ort-python); a loaded native `Runtime`
    (native: a new stream on the warm model); a checkpoint, run directory or shipped world name, a
    `WorldModel`, or a loaded (model, config, state) tuple (torch). `intra_op_threads`: the ONNX
    Runtime or OpenVINO threads per graph (None: its default); `allow_spinning`, `provider` ("cpu",
    "cuda", "tensorrt"), `native_backend` ("ort", "openvino", "tensorrt") and `compute_precision` (""
    the bundle's, "bf16" on openvino) go to the native runtime; `precision` ("fp32", "bf16") to
    PyTorch. `seed`, `temperature` and `sampling_steps` (None: the world's default K) are the
    stream options of a flow head (docs/architecture.md §4), checked here for every backend."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    check_sampling(seed, temperature, sampling_steps)
    sampling = {"seed": seed, "temperature": temperature, "sampling_steps": sampling_steps}
    if backend == "torch":
        return _torch(source, batch, precision, sampling)
    from vidgen_rt.runtime.native import Runtime

    if isinstance(source, Runtime):
        if backend != "native":
            raise ConfigError(f"a loaded native Runtime runs on backend 'native', not {backend!r}")
        return NativeStepper(source, source.bundle, batch, **sampling)
    bundle = _bundle(source, backend)
    if backend == "ort-python":
        from vidgen_rt.runtime.ort_stepper import OrtStepper

        return OrtStepper(bundle, batch=batch, intra_op_threads=intra_op_threads, **sampling)
    # load_bundle has just checked the checksums; the native loader checks everything else again.
    runtime = Runtime(bundle.path, intra_op_threads=intra_op_threads, provider=provider, backend=native_backend,
                      allow_spinning=allow_spinning, verify_checksums=False, compute_precision=compute_precision)
    return NativeStepper(runtime, bundle, batch, **sampling)


def is_bundle(source) -> bool:
    """A bundle directory (NAME.vgrt) or a packed bundle file (NAME.vgrtpack)."""
    if not isinstance(source, (str, Path)):
        return False
    path = Path(source)
    return (path / "manifest.json").is_file() or (path.suffix == ".vgrtpack" and path.is_file())


def _bundle(source, backend: str):
    from vidgen_rt.export.bundle import Bundle, load_bundle

    if isinstance(source, Bundle):
        return source
    if not isinstance(source, (str, Path)) or not is_bundle(source):
        raise ConfigError(f"backend {backend!r} runs a bundle (NAME.vgrt); {_name(source)} is not one "
                          f"(export a checkpoint with `vidgen export`, or use backend 'torch')")
    return load_bundle(source)


def _torch(source, batch: int, precision: str, sampling: dict) -> Stepper:
    from vidgen_rt.model.world_model import WorldModel
    from vidgen_rt.runtime.torch_stepper import TorchStepper

    if isinstance(source, WorldModel):
        return TorchStepper(source, batch, precision=precision, **sampling)
    if isinstance(source, tuple) and source and isinstance(source[0], WorldModel):
        model, config, state = (*source, None)[:3]
        return TorchStepper(model, batch, config=config, state=state, precision=precision, **sampling)
    if is_bundle(source):
        raise ConfigError(f"backend 'torch' runs a checkpoint; {_name(source)} is a bundle "
                          f"(use backend 'native' or 'ort-python')")
    from vidgen_rt.train.checkpoint import load_checkpoint

    model, config, state = load_checkpoint(source)
    return TorchStepper(model, batch, config=config, state=state, precision=precision, **sampling)


def _name(source) -> str:
    return repr(str(source)) if isinstance(source, (str, Path)) else type(source).__name__


class NativeStepper(Stepper):
    """B players of the native runtime: a `Stream` of `runtime`, with the world's `info` and the
    Python steppers' checks of every condition (the Stream itself checks actions and stream options)."""

    def __init__(self, runtime, bundle, batch: int = 1, seed: int = 0, temperature: float = 1.0,
                 sampling_steps: int | None = None):
        self.runtime, self.bundle, self.batch = runtime, bundle, batch
        self.info = StepperInfo.from_manifest(bundle.manifest)
        self.stream = runtime.open_stream(batch, seed=seed, temperature=temperature, sampling_steps=sampling_steps)

    def set_sampling(self, seed=None, temperature=None, sampling_steps=None) -> None:
        """Change the stream options from the next frame on; None keeps one as it is."""
        self.stream.set_sampling(seed=seed, temperature=temperature, sampling_steps=sampling_steps)

    def reset(self, frames=None, actions=None, cond=None, guide=None):
        return self.stream.reset(frames, actions, cond, guide)

    def step(self, action, cond=None, guide=None):
        return self.stream.step(action, *check_step_conditions(self.info, self.batch, cond, guide))

    def push_action(self, action) -> None:
        """Queue an action for the asynchronous stream (one per step, in order)."""
        self.stream.push_action(action)

    def set_conditions(self, cond=None, guide=None) -> None:
        """The cond / guide the asynchronous stream feeds every step."""
        self.stream.set_conditions(*check_step_conditions(self.info, self.batch, cond, guide))

    def snapshot(self):
        return self.stream.snapshot()

    def restore(self, snapshot) -> None:
        self.stream.restore(snapshot)

    def stats(self) -> dict:
        return self.stream.stats()

    def close(self) -> None:
        self.stream.close()

    def __getattr__(self, name: str):
        if name == "stream":  # not yet set: __init__ failed before opening it
            raise AttributeError(name)
        return getattr(self.stream, name)
