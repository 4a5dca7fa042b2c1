"""The native runtime from Python: `Runtime(bundle)` loads a bundle into libvidgen_rt (C++), and
`Runtime.open_stream(batch)` gives a `Stream` that steps B players at once.

The same verbs as the C ABI (native/include/vidgen_rt.h): synchronous `step`, an asynchronous mode
(`start`, `push_action`, `latest`, `stop`), `snapshot`/`restore`, `set_postprocess`, `stats`, and a
flow head's stream options `seed`, `temperature`, `sampling_steps` (`open_stream`, `set_sampling`;
the same names and checks as the Python steppers, docs/architecture.md §4). Frames
come back as (B, H, W, 4) uint8 arrays that share the runtime's memory (no copy); each array keeps
its frame alive. The GIL is released while C++ works, so a Python viewer can draw while a stream
generates. ONNX Runtime is loaded by the C++ side: `ort_library`, else $VGRT_ORT_LIBRARY, else a
libonnxruntime.so beside libvidgen_rt (an installed SDK), else the installed onnxruntime package's
capi/ directory, else the system loader. OpenVINO (`backend="openvino"`) the same way: `openvino_library`,
$VGRT_OPENVINO_LIBRARY, beside libvidgen_rt, the openvino package's libs/, the system loader.

A bundle is a directory (NAME.vgrt) or a packed bundle (NAME.vgrtpack, one file: `vidgen export
--pack`), which `Runtime(path)` reads into memory and `Runtime.from_bytes(data)` opens from bytes a
host already holds (an engine's asset archive); both pass the same native validator.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vidgen_rt import _native
from vidgen_rt.errors import ConfigError, VidgenError
from vidgen_rt.runtime.stepper import check_actions, check_sampling

ORT_PACKAGES = ("onnxruntime",)
PACK_LABEL = "[packed bundle]"  # how the native runtime names a pack opened from memory in its messages


def _wheel_library_dir(packages, folder: str, library: str) -> str:
    """The `folder` of the first installed package among `packages` that holds `library`* files, found
    without importing the package; "" when none is installed."""
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            directory = Path(spec.origin).parent / folder
            if any(directory.glob(f"{library}*")):
                return str(directory)
    return ""


def ort_search_dir() -> str:
    """The installed ONNX Runtime wheel's capi/ folder (holding libonnxruntime.so*); "" without one."""
    return _wheel_library_dir(ORT_PACKAGES, "capi", "libonnxruntime.so")


def openvino_search_dir() -> str:
    """The installed openvino wheel's libs/ folder (holding libopenvino_c.so*); "" without one."""
    return _wheel_library_dir(("openvino",), "libs", "libopenvino_c.so")


def openvino_status() -> dict:
    """Whether backend "openvino" can run here, without loading it: {"available", "version" (the
    openvino package's, or None), "reason" (why not, or None)}. It needs a libvidgen_rt built with
    OpenVINO's C API headers and a libopenvino_c to load (the package's, or $VGRT_OPENVINO_LIBRARY)."""
    import importlib.metadata
    import os

    try:
        version = importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        version = None
    reason = None
    if "openvino" not in _native.build_info()["backends"]:
        reason = ("libvidgen_rt was built without OpenVINO's C API headers "
                  "(pip install openvino, then rebuild: scripts/setup.sh)")
    elif not openvino_search_dir() and not os.environ.get("VGRT_OPENVINO_LIBRARY"):
        reason = "no libopenvino_c to load (pip install openvino, or set VGRT_OPENVINO_LIBRARY)"
    return {"available": reason is None, "version": version, "reason": reason}


def library_path() -> Path:
    """libvidgen_rt.so.N (N: the C ABI version, its soname) as installed next to the module, for
    ctypes and C hosts; `vidgen sdk -o DIR` copies it into an SDK with headers and package files."""
    return Path(_native.__file__).with_name(f"libvidgen_rt.so.{_native.build_info()['abi_version']}")


class Frame(NamedTuple):
    index: int            # 0: the context's last frame after open/reset, then +1 per step
    rgba: np.ndarray      # (B, H, W, 4) uint8
    actions: tuple        # the B actions of the step that made it (-1 for index 0)


class Runtime:
    """A loaded bundle, validated by the native loader first (every rule of docs/architecture.md §9;
    `verify_checksums=False` skips only the sha256 rule). `bundle_path`: a bundle directory or a
    packed bundle file (.vgrtpack). `intra_op_threads`: the backend's threads per graph (None: its
    default; ONNX Runtime: one per physical core); `allow_spinning`: ONNX Runtime's pool threads
    busy-wait between ops; `provider`: "cpu", "cuda" or "tensorrt" (ORT execution providers; the
    library must have them); `backend`: "ort", "openvino" (OpenVINO's CPU plugin) or "tensorrt"
    (native TensorRT, where libvidgen_rt was built with it; bundle directories only);
    `compute_precision`: "" (the bundle's precision) or "bf16" (backend "openvino" only: compute in
    bfloat16); `openvino_library`: an explicit libopenvino_c.so path.

    `info` (a dict, read once at load): name, precision, backend, backend_library, height, width
    (frame size in pixels), actions (names; an action's id is its index), key_bindings (action name
    -> comma-separated GLFW key names), default_action, cond_dim and guide_channels (0: none),
    context_frames, window, batch_sizes (exported), postprocess (the bundle's defaults), head,
    sampling_steps, max_sampling_steps."""

    def __init__(self, bundle_path, intra_op_threads: int | None = None, ort_library: str | None = None,
                 provider: str = "cpu", backend: str = "ort", allow_spinning: bool = True, device_id: int = 0,
                 verify_checksums: bool = True, compute_precision: str = "", openvino_library: str | None = None):
        self.path = Path(bundle_path)
        # A regular file is a pack; anything else goes to the directory loader, which refuses
        # FIFOs and devices without reading them.
        source = self.path.read_bytes() if self.path.is_file() else str(self.path)
        self._open(source, self.path, intra_op_threads=intra_op_threads, ort_library=ort_library, provider=provider,
                   backend=backend, allow_spinning=allow_spinning, device_id=device_id,
                   verify_checksums=verify_checksums, compute_precision=compute_precision,
                   openvino_library=openvino_library)

    @classmethod
    def from_bytes(cls, data, **options) -> "Runtime":
        """A packed bundle's bytes (bytes, bytearray, memoryview or a uint8 array) opened in memory,
        with the options of `Runtime(...)`. The runtime keeps its own copy; `path` is None."""
        runtime = cls.__new__(cls)
        runtime.path = None
        runtime._open(data, None, **options)
        return runtime

    def _open(self, source, label, intra_op_threads=None, ort_library=None, provider="cpu", backend="ort",
              allow_spinning=True, device_id=0, verify_checksums=True, compute_precision="",
              openvino_library=None) -> None:
        try:
            self._model = _native.Model(source, intra_op_threads=intra_op_threads or 0, provider=provider,
                                        backend=backend, ort_library=str(ort_library or ""),
                                        ort_search_dir=ort_search_dir(), allow_spinning=allow_spinning,
                                        device_id=device_id, verify_checksums=verify_checksums,
                                        compute_precision=compute_precision,
                                        openvino_library=str(openvino_library or ""),
                                        openvino_search_dir=openvino_search_dir())
        except VidgenError as error:
            raise relabel(error, label) from None
        self.info = self._model.info()

    @property
    def manifest(self) -> dict:
        """The manifest.json the native loader validated (docs/export.md)."""
        return json.loads(self._model.manifest())

    @property
    def bundle(self):
        """The loaded bundle as a `vidgen_rt.export.Bundle`, without validating it again (`path`
        None when opened from bytes: its manifest only)."""
        from vidgen_rt.export.bundle import Bundle, pack_index

        packed = self.path is not None and self.path.is_file()
        return Bundle(path=self.path, manifest=self.manifest, pack_index=pack_index(self.path) if packed else None)

    @property
    def actions(self) -> list[str]:
        return list(self.info["actions"])

    @property
    def batch_sizes(self) -> list[int]:
        return list(self.info["batch_sizes"])

    @property
    def head(self) -> str:
        """The sampling head: "mse", "flow_mlp" or "flow_conv" (manifest head.kind)."""
        return self.info["head"]

    def open_stream(self, batch: int = 1, frames=None, actions=None, cond=None, guide=None, *, seed: int = 0,
                    temperature: float = 1.0, sampling_steps: int | None = None) -> "Stream":
        """A stream of `batch` players (one of `batch_sizes`), started from context `frames`
        (K, H, W, 3) shared or (B, K, H, W, 3) per player and the K-1 `actions` between them
        (default: the bundle's context). `seed`, `temperature` and `sampling_steps` (None: the
        bundle's) choose a flow head's noise; an mse head ignores them."""
        check_sampling(seed, temperature, sampling_steps)
        native = self._model.open_stream(batch, *_context(frames, actions, cond, guide), seed=int(seed),
                                         temperature=float(temperature), sampling_steps=int(sampling_steps or 0))
        return Stream(self, native)

    def __repr__(self) -> str:
        info = self.info
        return (f"Runtime({str(self.path or '<bytes>')!r}: {info['width']}x{info['height']}, "
                f"{len(info['actions'])} actions, batch sizes {info['batch_sizes']}, {info['backend']} from "
                f"{info['backend_library']})")


class Stream:
    """B players stepped together; see the module docstring for the verbs."""

    def __init__(self, runtime: Runtime, native):
        self.runtime = runtime
        self._native = native
        self.batch = native.batch
        self._action_names = runtime.actions  # read once: every step checks its action against them

    def step(self, action, cond=None, guide=None) -> np.ndarray:
        """Action int (every player) or (B,) ints -> the next frames, RGBA uint8 (B, H, W, 4)."""
        return self._native.step(self._actions(action), _floats(cond), _floats(guide))

    def reset(self, frames=None, actions=None, cond=None, guide=None) -> np.ndarray:
        """Start over from a context (default: the bundle's); returns its last frame (B, H, W, 4)."""
        self._native.reset(*_context(frames, actions, cond, guide))
        return self._native.latest()[1]

    def set_sampling(self, seed: int | None = None, temperature: float | None = None,
                     sampling_steps: int | None = None) -> None:
        """Change some of seed, temperature, sampling_steps from the next generated frame on (also
        while running asynchronously); the others keep their values. The draw index runs on."""
        check_sampling(seed, temperature, sampling_steps)
        current = self._native.sampling()
        self._native.set_sampling(current["seed"] if seed is None else int(seed),
                                  current["temperature"] if temperature is None else float(temperature),
                                  current["sampling_steps"] if sampling_steps is None else int(sampling_steps))

    def sampling(self) -> dict:
        """{"seed", "temperature", "sampling_steps"} in use (sampling_steps resolved)."""
        return self._native.sampling()

    def snapshot(self):
        """The stream's state: KV ring, latents, frame and draw index, sampling options."""
        return self._native.snapshot()

    def restore(self, snapshot) -> None:
        self._native.restore(snapshot)

    def set_postprocess(self, brightness: float | None = None, contrast: float | None = None,
                        gamma: float | None = None, sharpen: float | None = None) -> None:
        """Change some of brightness, contrast, gamma, sharpen; the others keep their values."""
        params = self._native.postprocess()
        for name, value in (("brightness", brightness), ("contrast", contrast), ("gamma", gamma),
                            ("sharpen", sharpen)):
            if value is not None:
                params[name] = float(value)
        self._native.set_postprocess(**params)

    def postprocess(self) -> dict:
        return self._native.postprocess()

    def start(self, fps: float | None = None) -> None:
        """Generate on a background thread at `fps` frames per second (None: as fast as it can)."""
        self._native.start(0.0 if fps is None else float(fps))

    def stop(self) -> None:
        self._native.stop()

    @property
    def running(self) -> bool:
        return self._native.running

    def push_action(self, action) -> None:
        """Queue an action (int or (B,) ints) for the background thread: one per step, in order."""
        self._native.push_action(self._actions(action))

    def set_conditions(self, cond=None, guide=None) -> None:
        """The cond/guide the background thread feeds every step."""
        self._native.set_conditions(_floats(cond), _floats(guide))

    def latest(self):
        """(frame_index, frames (B, H, W, 4)) of the newest frame not yet taken, or None."""
        frame = self._native.latest()
        return None if frame is None else frame[:2]

    def latest_frame(self) -> Frame | None:
        """Like `latest`, with the actions that produced the frame."""
        frame = self._native.latest()
        return None if frame is None else Frame(*frame)

    def wait_frame(self, timeout: float = 1.0) -> Frame | None:
        """The next frame of a running stream, waiting up to `timeout` seconds (None on timeout, or
        at once when the stream is not running and nothing is waiting). The GIL is released."""
        if not 0 <= timeout <= 3600:
            raise ValueError(f"timeout must be 0..3600 seconds, got {timeout}")
        frame = self._native.wait_frame(int(round(timeout * 1000)))
        return None if frame is None else Frame(*frame)

    def stats(self) -> dict:
        return self._native.stats()

    def close(self) -> None:
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _actions(self, action) -> np.ndarray:
        # The same one-line refusal as every other stepper (1.9, NaN, "forward", 2**64, out of range).
        return check_actions(action, self.batch, self._action_names)


def relabel(error: VidgenError, path) -> VidgenError:
    """`error` with the native name of a pack opened from memory replaced by the file it came from."""
    if path is None or PACK_LABEL not in str(error):
        return error
    return type(error)(str(error).replace(PACK_LABEL, str(path)))


def _floats(value):
    return None if value is None else np.ascontiguousarray(value, dtype=np.float32)


def _context(frames, actions, cond, guide) -> tuple:
    if frames is None:
        if actions is not None or cond is not None or guide is not None:
            raise ConfigError("context actions/cond/guide given without frames")
        return None, None, None, None
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    actions = np.ascontiguousarray(np.zeros(0, np.int64) if actions is None else actions, dtype=np.int64)
    return frames, actions, _floats(cond), _floats(guide)
