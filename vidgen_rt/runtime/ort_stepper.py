"""OrtStepper: the reference driver of a bundle, in Python + numpy + ONNX Runtime.

It is the executable definition of the step contract (DESIGN §4) that the native runtime must match
bit for bit, so it stays short and does everything the plain way:
- the ring `kv [L, 2, B, heads, S, N, head_dim]` and `lags [S]` start empty (every lag = sentinel);
- a step runs `step.onnx` on the current latents, then copies `new_kv` into slot `next_slot` (the
  oldest; slots are used round-robin from 0), ages every lag by one up to the sentinel, sets that
  slot's lag to 1 and advances `next_slot`;
- `reset` encodes the context frames and feeds all but the last through the step (teacher-forced,
  their predictions discarded); the last one's latents become the current frame;
- `step(action)` predicts the next latents, makes them current and returns them decoded (RGBA).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from vidgen_rt.errors import BundleError, ConfigError
from vidgen_rt.export.bundle import Bundle, load_bundle


def session_options(threads: int | None = None, spinning: bool = True) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


class OrtStepper:
    def __init__(self, bundle: Bundle | str, batch: int = 1, threads: int | None = None,
                 providers=("CPUExecutionProvider",)):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        manifest = self.bundle.manifest
        self.batch = batch
        # Only the step's thread pool spins: every session has its own pool, and one spinning after
        # its Run starves the next session's pool of cores (2x slower frames on a 2-core machine).
        self.sessions = {name: ort.InferenceSession(str(self.bundle.graph_path(name, batch)),
                                                    session_options(threads, spinning=name == "step"),
                                                    providers=list(providers))
                         for name in ("encode", "step", "decode")}
        cache = manifest["cache"]
        self.dtype = np.dtype(cache["dtype"])
        self.sentinel = cache["lag_sentinel"]
        self.kv = np.zeros((cache["layers"], 2, batch, cache["heads"], cache["slots"],
                            cache["tokens_per_frame"], cache["head_dim"]), dtype=self.dtype)
        self.lags = np.full(cache["slots"], self.sentinel, dtype=np.int64)
        self.next_slot = 0
        self.latents = None
        self.n_actions = len(manifest["actions"]["names"])
        self.conditions = manifest["conditions"] or {}

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 (B, H, W, 3) -> latents (B, C, h, w)."""
        return self.sessions["encode"].run(None, {"frames": np.ascontiguousarray(frames, dtype=np.uint8)})[0]

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """latents (B, C, h, w) -> RGBA uint8 (B, H, W, 4)."""
        return self.sessions["decode"].run(None, {"latents": latents})[0]

    def reset(self, frames: np.ndarray | None = None, actions: np.ndarray | None = None,
              cond: np.ndarray | None = None, guide: np.ndarray | None = None) -> np.ndarray:
        """Start from context frames (K, H, W, 3) or (B, K, H, W, 3) and the K-1 actions between them
        (default: the bundle's context); a conditioned bundle also takes the cond (K-1, Dc) and
        normalised guide (K-1, G, H, W) of frames 1..K-1. Returns the last context frame as RGBA."""
        if frames is None:
            context = self.bundle.context()
            frames, actions = context["frames"], context["actions"]
            cond, guide = context.get("cond"), context.get("guide")
        frames = self._per_stream(np.asarray(frames), 4, "frames")  # (B, K, H, W, 3)
        K = frames.shape[1]
        actions = self._per_stream(np.asarray(actions, dtype=np.int64), 1, "actions")  # (B, K-1)
        if actions.shape[1] != K - 1:
            raise ConfigError(f"context of {K} frames needs {K - 1} actions, got {actions.shape[1]}")
        cond = None if cond is None else self._per_stream(np.asarray(cond), 2, "cond")
        guide = None if guide is None else self._per_stream(np.asarray(guide), 4, "guide")
        self.kv[...] = 0
        self.lags[...] = self.sentinel
        self.next_slot = 0
        for t in range(K - 1):
            self.advance(self.encode(frames[:, t]), actions[:, t],
                          None if cond is None else cond[:, t], None if guide is None else guide[:, t])
        self.latents = self.encode(frames[:, K - 1])
        return self.decode(self.latents)

    def step(self, action, cond: np.ndarray | None = None, guide: np.ndarray | None = None) -> np.ndarray:
        """One generated frame per stream: action int or (B,) ints, and for a conditioned bundle the
        cond / normalised guide of the frame being generated -> RGBA uint8 (B, H, W, 4)."""
        if self.latents is None:
            raise ConfigError("OrtStepper.step before reset: call reset() to seed the context first")
        self.latents = self.advance(self.latents, action, cond, guide)
        return self.decode(self.latents)

    def advance(self, latents, action, cond=None, guide=None) -> np.ndarray:
        """Run step.onnx from `latents` (not necessarily the current ones), push the frame's keys and
        values into the ring and return the next latents, undecoded."""
        feeds = {"latents": latents, "action": self._actions(action)}
        for name, value in (("cond", cond), ("guide", guide)):
            if self.conditions.get(name):
                feeds[name] = self._condition(name, value)
        feeds["kv_cache"], feeds["lags"] = self.kv, self.lags
        next_latents, new_kv = self.sessions["step"].run(None, feeds)
        self.lags = np.minimum(self.lags + 1, self.sentinel)
        self.kv[:, :, :, :, self.next_slot] = new_kv
        self.lags[self.next_slot] = 1
        self.next_slot = (self.next_slot + 1) % len(self.lags)
        return next_latents

    def snapshot(self) -> tuple:
        return self.kv.copy(), self.lags.copy(), self.next_slot, None if self.latents is None else self.latents.copy()

    def restore(self, snapshot: tuple) -> None:
        kv, lags, self.next_slot, latents = snapshot
        self.kv[...] = kv
        self.lags = lags.copy()
        self.latents = None if latents is None else latents.copy()

    def _actions(self, action) -> np.ndarray:
        actions = np.broadcast_to(np.asarray(action, dtype=np.int64), (self.batch,)).copy()
        if actions.min() < 0 or actions.max() >= self.n_actions:
            raise ConfigError(f"action {actions.tolist()} out of range: this world has actions 0..{self.n_actions - 1}")
        return actions

    def _condition(self, name: str, value) -> np.ndarray:
        spec = self.conditions[name]
        shape = (self.batch, spec["dim"]) if name == "cond" else (self.batch, spec["channels"], spec["height"], spec["width"])
        if value is None:
            raise ConfigError(f"this bundle needs {name!r} of shape {shape} every step")
        value = np.asarray(value, dtype=self.dtype).reshape(shape)
        if not np.isfinite(value).all():
            raise ConfigError(f"{name!r} holds NaN or infinite values")
        return value

    def _per_stream(self, array: np.ndarray, rank: int, name: str) -> np.ndarray:
        """Add the batch axis to per-stream data, broadcasting one context to every stream."""
        if array.ndim == rank:
            array = np.broadcast_to(array[None], (self.batch, *array.shape))
        if array.ndim != rank + 1 or array.shape[0] != self.batch:
            raise BundleError(f"context {name!r} has shape {array.shape}; expected {rank}-D per stream "
                              f"or {rank + 1}-D with batch {self.batch} first")
        return np.ascontiguousarray(array)
