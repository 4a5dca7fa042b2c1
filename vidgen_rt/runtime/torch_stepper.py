"""TorchStepper: the step contract (docs/architecture.md §4) run by PyTorch's cached step.

The world model's dynamics predict the next latents from the current ones and the KV ring
(model/kv_ring.py) of earlier frames; this class owns that loop for B players: `reset` encodes
context frames and feeds all but the last through the step (teacher-forced, predictions discarded),
`step` predicts, decodes and times one frame. A flow head samples each generated frame from the
stream's Philox noise (runtime/noise.py) in `sampling_steps` Euler steps, as the bundle's noise and
sample graphs do; context frames draw nothing. Evaluation and parity also drive it at the latent
level: `start` seeds it from latents already encoded, `advance` steps from any latents (teacher
forcing feeds true ones) and `rollout` generates a whole sequence for one player. `precision="bf16"`
runs step and decode under CPU bfloat16 autocast, as the benchmark's `torch-bf16` backend.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from vidgen_rt.errors import ConfigError
from vidgen_rt.model.kv_ring import KVRing
from vidgen_rt.runtime.noise import gaussian
from vidgen_rt.runtime.stepper import LatentStepper, StepperInfo, check_actions, check_step_conditions, per_player

PRECISIONS = ("fp32", "bf16")


class TorchStepper(LatentStepper):
    def __init__(self, model, batch: int = 1, config=None, state: dict | None = None, precision: str = "fp32",
                 seed: int = 0, temperature: float = 1.0, sampling_steps: int | None = None):
        """`model`: a WorldModel; `config` (the full Config) and `state` (the checkpoint's) give the
        action names and, for a built-in world, the default context. `seed`, `temperature` and
        `sampling_steps` (default: the model's) drive a flow head's sampling."""
        if precision not in PRECISIONS:
            raise ConfigError(f"precision {precision!r}: the PyTorch stepper runs {', '.join(PRECISIONS)}")
        if batch < 1:
            raise ConfigError(f"batch {batch}: expected 1 or more players")
        m = model.config
        super().__init__(seed, temperature, sampling_steps, default_steps=m.sampling_steps)
        self.model, self.config, self.state = model, config, dict(state or {})
        self.batch, self.bf16 = batch, precision == "bf16"
        names = self.state.get("action_names") or [str(i) for i in range(m.n_actions)]
        self.info = StepperInfo(name=str(self.state.get("world") or "world model"), height=m.frame_height,
                                width=m.frame_width, action_names=tuple(names), default_action=0,
                                cond_dim=m.cond_dim, guide_channels=m.guide_channels)
        self.ring = KVRing(m, batch)

    def reset(self, frames=None, actions=None, cond=None, guide=None) -> np.ndarray:
        if frames is None:
            frames, actions, cond, guide = self._default_context()
        frames = per_player(np.asarray(frames, dtype=np.uint8), 4, self.batch, "frames")  # (B, K, H, W, 3)
        B, K = frames.shape[:2]
        latents = self.model.encode_frames(frames.reshape(B * K, *frames.shape[2:]))
        latents = latents.reshape(B, K, *latents.shape[1:])  # (B, K, C, h, w)
        context = [None if v is None else torch.tensor(per_player(np.asarray(v), rank, B, name))
                   for v, rank, name in ((actions, 1, "actions"), (cond, 2, "cond"), (guide, 4, "guide"))]
        if context[0] is None or context[0].shape[1] != K - 1:
            got = "none" if context[0] is None else context[0].shape[1]
            raise ConfigError(f"a context of {K} frames needs {K - 1} actions, got {got}")
        self.start(latents, *context)
        return self.decode(self.latents)

    @torch.no_grad()
    def start(self, latents: torch.Tensor, actions: torch.Tensor, cond: torch.Tensor | None = None,
              guide: torch.Tensor | None = None) -> torch.Tensor:
        """Seed from encoded context: latents (B, K, C, h, w) of frames 0..K-1, actions (B, K-1)
        between them and, for a conditioned model, cond (B, K-1, Dc) and normalised guide
        (B, K-1, G, H, W) of frames 1..K-1. The ring then holds frames 0..K-2; returns frame K-1's
        latents, the current ones."""
        B, K = latents.shape[:2]
        if B != self.batch:
            raise ConfigError(f"context for {B} players: this stepper has {self.batch}")
        self.ring = KVRing(self.model.config, B, dtype=latents.dtype)
        self.draw = 0
        for t in range(K - 1):
            self._step(latents[:, t], actions[:, t], None if cond is None else cond[:, t],
                       None if guide is None else guide[:, t])
        self.latents = latents[:, K - 1]
        return self.latents

    @torch.no_grad()
    def advance(self, latents: torch.Tensor, action, cond=None, guide=None) -> torch.Tensor:
        """Step from `latents` (B, C, h, w), not necessarily the current ones, with `action` int or
        (B,) and the cond (B, Dc) / normalised guide (B, G, H, W) of the frame produced; push the
        frame's keys and values into the ring and return the next latents, undecoded (a flow head
        samples them with the next draw)."""
        output = self._step(latents, action, cond, guide)
        dynamics = self.model.dynamics
        if not dynamics.is_flow:
            return output.to(latents.dtype)
        bits = self.next_noise_bits((self.batch, 2, *latents.shape[1:]))
        noise = torch.from_numpy(gaussian(bits, self.temperature)).to(output.dtype)
        with self._autocast():
            next_latents = dynamics.sample(output, noise, self.sampling_steps)
        return next_latents.to(latents.dtype)

    def _step(self, latents: torch.Tensor, action, cond, guide) -> torch.Tensor:
        """The cached step and the ring push; returns the step's output (next latents or head_cond)."""
        actions = torch.from_numpy(check_actions(action, self.batch, self.info.action_names))
        cond, guide = (None if v is None else torch.from_numpy(v)
                       for v in check_step_conditions(self.info, self.batch, _numpy(cond), _numpy(guide)))
        with self._autocast():
            output, new_kv = self.model.dynamics.step(latents, actions, cond, guide, self.ring.kv, self.ring.lags)
        self.ring.push(new_kv)
        return output

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """latents (B, C, h, w) -> RGBA uint8 (B, H, W, 4), the frames every stepper returns."""
        with self._autocast():
            rgb = self.model.decode_latents(latents)
        return np.concatenate([rgb, np.full((*rgb.shape[:3], 1), 255, np.uint8)], axis=-1)

    @torch.no_grad()
    def rollout(self, context_frames: np.ndarray, context_actions: np.ndarray, actions: np.ndarray,
                cond: torch.Tensor | None = None, guide: torch.Tensor | None = None) -> np.ndarray:
        """Generate len(actions) frames for one player (a stepper of batch 1).

        context_frames uint8 (K, H, W, 3), context_actions (K-1,) between them, actions (T,): the
        action taken after the last context frame and after each generated one. A conditioned
        model also takes cond (K-1+T, Dc) and normalised guide (K-1+T, G, H, W): those of every
        frame after the first context frame. Returns uint8 (T, H, W, 3), the frames after the context.
        """
        if self.batch != 1:
            raise ConfigError(f"rollout generates for one player; this stepper has {self.batch}")
        K, steps = len(context_frames), len(context_frames) - 1 + len(actions)
        for name, value in (("cond", cond), ("guide", guide)):
            if value is not None and len(value) < steps:
                raise ConfigError(f"rollout: {name} covers {len(value)} frames, the rollout needs {steps}")
        latents = self.model.encode_frames(context_frames).unsqueeze(0)  # (1, K, C, h, w)
        context = [None if c is None else c[None, :K - 1] for c in (cond, guide)]  # (1, K-1, ...)
        current = self.start(latents, torch.tensor(np.asarray(context_actions), dtype=torch.int64)[None], *context)
        generated = []
        for t, action in enumerate(np.asarray(actions, dtype=np.int64), start=K - 1):
            step = [None if c is None else c[t:t + 1] for c in (cond, guide)]  # (1, ...) of frame t+1
            current = self.advance(current, int(action), *step)
            generated.append(current[0])
        self.latents = current
        return self.model.decode_latents(torch.stack(generated))

    def snapshot(self) -> tuple:
        return self.ring.snapshot(), None if self.latents is None else self.latents.clone(), self.sampling_state()

    def restore(self, snapshot: tuple) -> None:
        ring, latents, sampling = snapshot
        self.ring.restore(ring)
        self.latents = None if latents is None else latents.clone()
        self.restore_sampling(sampling)

    def _autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def _default_context(self) -> tuple:
        if self.config is None or not self.state.get("world"):
            raise ConfigError("reset(): this PyTorch stepper has no built-in world to take context frames from; "
                              "pass frames and actions")
        from vidgen_rt.export.writer import context_for

        context = context_for(self.config, self.state, None)
        return context["frames"], context["actions"], context.get("cond"), context.get("guide")


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
