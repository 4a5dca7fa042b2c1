"""OrtStepper: the reference driver of a bundle, in Python + numpy + ONNX Runtime.

It is the executable definition of the step contract (docs/architecture.md §4) that the native
runtime must match bit for bit, so it stays short and does everything the plain way:
- the ring `kv [n_layers, 2, B, n_heads, cache_slots, tokens_per_frame, head_dim]` and `lags
  [cache_slots]` start empty (every lag = lag_sentinel); step.onnx reads the ring's blocks (l, 0) and
  (l, 1) as its inputs `past_key_{l}` and `past_value_{l}`;
- a step runs `step.onnx` on the current latents, then copies `new_kv` into slot `next_slot` (the
  oldest; slots are used round-robin from 0), ages every lag by one up to the sentinel, sets that
  slot's lag to 1 and advances `next_slot`;
- `reset` encodes the context frames and feeds all but the last through the step (teacher-forced,
  their predictions discarded); the last one's latents become the current frame;
- `step(action)` predicts the next latents, makes them current and returns them decoded (RGBA).
- with a flow head (manifest `head`), `step.onnx` returns `head_cond` instead; the generated frame's
  `noise_bits` come from Philox (runtime/noise.py: seed, draw index), `noise.onnx` scales them by the
  temperature, and `sample.onnx` runs K = sampling_steps times with t = k/K, dt = 1/K (float32) to
  give the next latents; the draw index then grows by one. Context frames fed by `reset` draw nothing.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from vidgen_rt.errors import ConfigError
from vidgen_rt.export.bundle import Bundle, load_bundle
from vidgen_rt.model.heads import euler_times
from vidgen_rt.runtime.stepper import LatentStepper, StepperInfo, check_actions, check_step_conditions, per_player


def session_options(intra_op_threads: int | None = None, allow_spinning: bool = True) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if intra_op_threads:
        options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    return options


class OrtStepper(LatentStepper):
    def __init__(self, bundle: Bundle | str, batch: int = 1, intra_op_threads: int | None = None,
                 providers=("CPUExecutionProvider",), seed: int = 0, temperature: float = 1.0,
                 sampling_steps: int | None = None):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        super().__init__(seed, temperature, sampling_steps, default_steps=self.bundle.head["sampling_steps"])
        self.batch = batch
        self.info = StepperInfo.from_manifest(self.bundle.manifest)
        # Only the step's thread pool spins: every session has its own pool, and one spinning after
        # its Run starves the next session's pool of cores (2x slower frames on a 2-core machine).
        self.sessions = {name: ort.InferenceSession(str(self.bundle.graph_path(name, batch)),
                                                    session_options(intra_op_threads, allow_spinning=name == "step"),
                                                    providers=list(providers))
                         for name in self.bundle.graph_names}
        self.dtype = self.bundle.cache_dtype
        self.sentinel = self.bundle.lag_sentinel
        self.kv = np.zeros(self.bundle.cache_shape(batch), dtype=self.dtype)
        self.lags = np.full(self.kv.shape[4], self.sentinel, dtype=np.int64)
        self.next_slot = 0
        # Views into the ring, never copies: reset and restore write the ring in place.
        self.past = {f"past_{kind}_{layer}": self.kv[layer, index]
                     for layer in range(self.kv.shape[0]) for index, kind in enumerate(("key", "value"))}

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 (B, H, W, 3) -> latents (B, C, h, w)."""
        return self.sessions["encode"].run(None, {"frames": np.ascontiguousarray(frames, dtype=np.uint8)})[0]

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """latents (B, C, h, w) -> RGBA uint8 (B, H, W, 4)."""
        return self.sessions["decode"].run(None, {"latents": latents})[0]

    def reset(self, frames: np.ndarray | None = None, actions: np.ndarray | None = None,
              cond: np.ndarray | None = None, guide: np.ndarray | None = None) -> np.ndarray:
        if frames is None:
            context = self.bundle.context()
            frames, actions = context["frames"], context["actions"]
            cond, guide = context.get("cond"), context.get("guide")
        frames = per_player(np.asarray(frames), 4, self.batch, "frames")  # (B, K, H, W, 3)
        K = frames.shape[1]
        actions = per_player(np.asarray(np.zeros(0, np.int64) if actions is None else actions), 1, self.batch,
                             "actions")
        if actions.shape[1] != K - 1:
            raise ConfigError(f"context of {K} frames needs {K - 1} actions, got {actions.shape[1]}")
        cond = None if cond is None else per_player(np.asarray(cond), 2, self.batch, "cond")
        guide = None if guide is None else per_player(np.asarray(guide), 4, self.batch, "guide")
        self.kv[...] = 0
        self.lags[...] = self.sentinel
        self.next_slot = 0
        self.draw = 0
        for t in range(K - 1):
            self.run_step(self.encode(frames[:, t]), actions[:, t],
                          None if cond is None else cond[:, t], None if guide is None else guide[:, t])
        self.latents = self.encode(frames[:, K - 1])
        return self.decode(self.latents)

    def advance(self, latents, action, cond=None, guide=None) -> np.ndarray:
        """Run step.onnx from `latents` (not necessarily the current ones), push the frame's keys and
        values into the ring and return the next latents, undecoded (a flow head samples them)."""
        output = self.run_step(latents, action, cond, guide)
        return self.sample(output) if self.bundle.is_flow else output

    def sample(self, head_cond: np.ndarray) -> np.ndarray:
        """A flow head's next latents from the next draw's noise: one call of sample_k{K} where the
        bundle fuses this K, else noise.onnx and then sample.onnx K times (docs/architecture.md §4)."""
        bits = self.next_noise_bits((self.batch, 2, *self.latent_shape))
        temperature = np.array([self.temperature], np.float32)
        fused = self.sessions.get(f"sample_k{self.sampling_steps}")
        if fused is not None:
            return fused.run(None, {"head_cond": head_cond, "noise_bits": bits, "temperature": temperature})[0]
        x = self.sessions["noise"].run(None, {"noise_bits": bits, "temperature": temperature})[0]
        for t, dt in euler_times(self.sampling_steps):
            x = self.sessions["sample"].run(None, {"head_cond": head_cond, "x": x, "t": np.array([t], np.float32),
                                                   "dt": np.array([dt], np.float32)})[0]
        return x

    def run_step(self, latents, action, cond=None, guide=None) -> np.ndarray:
        """step.onnx and the ring push; returns its first output (next_latents or head_cond)."""
        feeds = {"latents": latents, "action": check_actions(action, self.batch, self.info.action_names)}
        for name, value in zip(("cond", "guide"), check_step_conditions(self.info, self.batch, cond, guide)):
            if value is not None:
                feeds[name] = value.astype(self.dtype)
        feeds.update(self.past)
        feeds["lags"] = self.lags
        output, new_kv = self.sessions["step"].run(None, feeds)
        self.lags = np.minimum(self.lags + 1, self.sentinel)
        self.kv[:, :, :, :, self.next_slot] = new_kv
        self.lags[self.next_slot] = 1
        self.next_slot = (self.next_slot + 1) % len(self.lags)
        return output

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of one frame's latents."""
        latent = self.bundle.manifest["latent"]
        return latent["channels"], latent["height"], latent["width"]

    def snapshot(self) -> tuple:
        return (self.kv.copy(), self.lags.copy(), self.next_slot, None if self.latents is None else self.latents.copy(),
                self.sampling_state())

    def restore(self, snapshot: tuple) -> None:
        kv, lags, self.next_slot, latents, sampling = snapshot
        self.kv[...] = kv
        self.lags = lags.copy()
        self.latents = None if latents is None else latents.copy()
        self.restore_sampling(sampling)

