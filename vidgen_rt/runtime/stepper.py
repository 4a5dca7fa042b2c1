"""The `Stepper` interface: what every consumer drives, whichever implementation steps the world.

A stepper holds one stream of `batch` players (docs/architecture.md §4, §10): `reset` seeds the KV
ring from context frames, `step` generates one frame per player, `snapshot` / `restore` save and
bring back the whole state (ring, lags, current latents) and `stats` reports frame latencies. There
are exactly three implementations, opened by `vidgen_rt.open_stepper` (runtime/factory.py):
`TorchStepper` (PyTorch cached step), `OrtStepper` (the numpy + ONNX Runtime oracle) and the native
`Stream` (libvidgen_rt, C++). The two Python ones share `LatentStepper`'s timed `step`: advance the
current latents through the step and the ring push, then decode them.

A world with a flow head samples every frame from noise (docs/architecture.md §3-§4): each stepper
takes the stream options `seed`, `temperature` and `sampling_steps` (constructor and `set_sampling`,
the same names on the native Stream), checked once here by `check_sampling`; `LatentStepper` keeps
the draw index, the Philox counter of the next generated frame, and saves it with every snapshot.
An "mse" world accepts the options and ignores them.

Bad input gets the same one-line `ConfigError` on every backend because every Python face checks it
here, before any engine sees it: `check_actions` (integer action ids within the world's actions;
no floats, NaN, strings, booleans or out-of-range values) and `check_condition` (cond vectors and
guide maps of the expected shape, finite, guide values inside the manifest's
`conditions.guide.range`).
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass

import numpy as np

from vidgen_rt.config import MAX_SAMPLING_STEPS
from vidgen_rt.errors import ConfigError
from vidgen_rt.runtime.noise import noise_bits
from vidgen_rt.runtime.stats import FrameTimes

# Guide maps are normalised to [0, 1] (model/world_model.py guide_to_tensor); a bundle without
# `conditions.guide.range` allows this margin around it, so a map given in the wrong units (metres,
# 0..255) is refused instead of painted.
DEFAULT_GUIDE_RANGE = (-4.0, 4.0)


@dataclass(frozen=True)
class StepperInfo:
    """What a host needs to drive a world: frame size, actions, and the conditions each step takes."""
    name: str
    height: int
    width: int
    action_names: tuple[str, ...]
    default_action: int
    cond_dim: int = 0
    guide_channels: int = 0
    guide_range: tuple[float, float] = DEFAULT_GUIDE_RANGE

    @classmethod
    def from_manifest(cls, manifest: dict) -> "StepperInfo":
        conditions = manifest.get("conditions") or {}
        cond, guide = conditions.get("cond") or {}, conditions.get("guide") or {}
        return cls(name=manifest["name"], height=manifest["frame"]["height"], width=manifest["frame"]["width"],
                   action_names=tuple(manifest["actions"]["names"]),
                   default_action=int(manifest["actions"].get("default", 0)),
                   cond_dim=int(cond.get("dim", 0)), guide_channels=int(guide.get("channels", 0)),
                   guide_range=tuple(guide.get("range", DEFAULT_GUIDE_RANGE)))

    def cond_shape(self, batch: int) -> tuple | None:
        return (batch, self.cond_dim) if self.cond_dim else None

    def guide_shape(self, batch: int) -> tuple | None:
        return (batch, self.guide_channels, self.height, self.width) if self.guide_channels else None


class Stepper(abc.ABC):
    """B players of one world, stepped together. Frames are RGBA uint8 (B, H, W, 4)."""

    batch: int
    info: StepperInfo

    @abc.abstractmethod
    def reset(self, frames=None, actions=None, cond=None, guide=None) -> np.ndarray:
        """Seed the stream from context frames (K, H, W, 3) shared or (B, K, H, W, 3) per player and
        the K-1 actions between them (default: the world's own context); a conditioned world also
        takes the cond (K-1, Dc) and normalised guide (K-1, G, H, W) of frames 1..K-1. Returns the
        last context frame."""

    @abc.abstractmethod
    def step(self, action, cond=None, guide=None) -> np.ndarray:
        """One generated frame per player: action int (every player) or (B,) ints, and for a
        conditioned world the cond / normalised guide of the frame being generated."""

    @abc.abstractmethod
    def snapshot(self):
        """The whole stream state (KV ring, lags, current latents, and the draw index with the
        sampling options), for `restore`."""

    @abc.abstractmethod
    def restore(self, snapshot) -> None:
        """Go back to a state `snapshot` returned; the next step replays the same frames."""

    @abc.abstractmethod
    def stats(self) -> dict:
        """{frames, dropped_frames, window, fps, step, decode, total}: frame counts and latency
        summaries (runtime/stats.py) of the newest frames."""

    def close(self) -> None:
        """Release what the stepper holds; it cannot step afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LatentStepper(Stepper):
    """What both Python implementations share: current latents (B, C, h, w), stepped by `advance`
    (the step plus the ring push, and for a flow head the sampling) and turned into frames by
    `decode`, each frame timed; and the sampling options with the draw index."""

    latents = None

    def __init__(self, seed: int = 0, temperature: float = 1.0, sampling_steps: int | None = None,
                 default_steps: int = 4):
        self.times = FrameTimes()
        check_sampling(seed, temperature, sampling_steps)
        self.seed, self.temperature = int(seed), float(temperature)
        self.sampling_steps = int(sampling_steps or default_steps)
        self.draw = 0

    def set_sampling(self, seed=None, temperature=None, sampling_steps=None) -> None:
        """Change the stream options from the next frame on; None keeps one as it is."""
        check_sampling(seed, temperature, sampling_steps)
        if seed is not None:
            self.seed = int(seed)
        if temperature is not None:
            self.temperature = float(temperature)
        if sampling_steps is not None:
            self.sampling_steps = int(sampling_steps)

    def next_noise_bits(self, shape: tuple[int, ...]) -> np.ndarray:
        """The Philox bits [B, 2, C, h, w] of the next generated frame; advances the draw index."""
        bits = noise_bits(self.seed, self.draw, shape)
        self.draw += 1
        return bits

    def sampling_state(self) -> tuple:
        return self.draw, self.seed, self.temperature, self.sampling_steps

    def restore_sampling(self, state: tuple) -> None:
        self.draw, self.seed, self.temperature, self.sampling_steps = state

    @abc.abstractmethod
    def advance(self, latents, action, cond=None, guide=None):
        """Step from `latents` (not necessarily the current ones), push the frame's keys and values
        into the ring and return the next latents, undecoded."""

    @abc.abstractmethod
    def decode(self, latents) -> np.ndarray:
        """latents (B, C, h, w) -> RGBA uint8 (B, H, W, 4)."""

    def step(self, action, cond=None, guide=None) -> np.ndarray:
        if self.latents is None:
            raise ConfigError(f"{type(self).__name__}.step before reset: call reset() to seed the context first")
        began = time.perf_counter()
        self.latents = self.advance(self.latents, action, cond, guide)
        stepped = time.perf_counter()
        frames = self.decode(self.latents)
        self.times.record(began, stepped, time.perf_counter())
        return frames

    def stats(self) -> dict:
        return self.times.stats()


def check_sampling(seed=None, temperature=None, sampling_steps=None) -> None:
    """The stream options (docs/architecture.md §4): seed an integer 0..2^64-1, temperature a finite
    number within 0..4, sampling_steps an integer 1..MAX_SAMPLING_STEPS; None leaves one unchecked."""
    def integer(value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))

    if seed is not None and not (integer(seed) and 0 <= int(seed) < 2 ** 64):
        raise ConfigError(f"seed {_show(seed)}: expected an integer 0..2^64-1")
    if temperature is not None:
        number = integer(temperature) or isinstance(temperature, (float, np.floating))
        if not (number and np.isfinite(temperature) and 0.0 <= float(temperature) <= 4.0):
            raise ConfigError(f"temperature {_show(temperature)}: expected a finite number within 0..4")
    if sampling_steps is not None and not (integer(sampling_steps) and 1 <= int(sampling_steps) <= MAX_SAMPLING_STEPS):
        raise ConfigError(f"sampling_steps {_show(sampling_steps)}: expected an integer 1..{MAX_SAMPLING_STEPS}")


def check_actions(action, batch: int, action_names) -> np.ndarray:
    """One action id for every player, or (B,) ids -> int64 (B,); anything else is a ConfigError
    naming the value and the valid ids."""
    names = list(action_names)
    valid = f"0..{len(names) - 1} ({', '.join(names)})"
    try:
        array = np.asarray(action)
    except (TypeError, ValueError):  # ragged nesting and the like
        array = np.asarray(None)
    if not _integer_array(array):
        several = f", or {batch} of them (one per player)" if batch > 1 else ""
        raise ConfigError(f"action {_show(action)}: expected an integer action id {valid}{several}")
    if array.ndim == 0:
        array = np.full(batch, array.item(), dtype=object)
    if array.shape != (batch,):
        raise ConfigError(f"actions of shape {array.shape}: expected one action id or {batch} (one per player)")
    values = [int(v) for v in array.tolist()]  # Python ints: 2**64 compares without overflowing
    bad = [v for v in values if not 0 <= v < len(names)]
    if bad:
        raise ConfigError(f"action {bad[0]} out of range: this world has actions {valid}")
    return np.array(values, dtype=np.int64)


def _integer_array(array: np.ndarray) -> bool:
    if array.dtype.kind in "iu":
        return True
    if array.dtype.kind == "O":  # Python ints too large for any numpy integer type
        return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in array.reshape(-1))
    return False


def check_condition(name: str, value, shape: tuple | None,
                    bounds: tuple[float, float] | None = None) -> np.ndarray | None:
    """A step's cond (B, Dc) or guide (B, G, H, W), or one player's shared by all -> float32 of
    `shape`; None where the world takes none (`shape` None). Refuses a missing or unexpected value,
    another shape, non-finite values, and values outside `bounds`."""
    if shape is None:
        if value is not None:
            raise ConfigError(f"{name}: this world takes no {name} (its model has none), got {_show(value)}")
        return None
    if value is None:
        raise ConfigError(f"{name}: this world needs a {name} of shape {shape} every step")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} {_show(value)}: expected numbers of shape {shape}") from None
    if array.shape == shape[1:]:
        array = np.broadcast_to(array, shape)
    if array.shape != shape:
        raise ConfigError(f"{name} of shape {array.shape}: expected {shape} (or {shape[1:]} for every player)")
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} holds NaN or infinite values")
    if bounds is not None and (array.min() < bounds[0] or array.max() > bounds[1]):
        raise ConfigError(f"{name} values span {float(array.min()):g}..{float(array.max()):g}: expected "
                          f"normalised values within {bounds[0]:g}..{bounds[1]:g}")
    return np.ascontiguousarray(array)


def check_step_conditions(info: StepperInfo, batch: int, cond, guide) -> tuple:
    """check_condition for both of a step's conditions, with the world's shapes and guide range."""
    return (check_condition("cond", cond, info.cond_shape(batch)),
            check_condition("guide", guide, info.guide_shape(batch), info.guide_range))


def per_player(array: np.ndarray, rank: int, batch: int, name: str) -> np.ndarray:
    """Context data shared by every player (`rank` dims) -> (B, ...); per-player data (rank + 1
    dims, players first) as it is."""
    if array.ndim == rank:
        array = np.broadcast_to(array[None], (batch, *array.shape))
    if array.ndim != rank + 1 or array.shape[0] != batch:
        raise ConfigError(f"context {name!r} of shape {array.shape}: expected {rank}-D shared by every player "
                          f"or {rank + 1}-D with {batch} players first")
    return np.ascontiguousarray(array)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
