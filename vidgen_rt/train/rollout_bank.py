"""The decoder stage's adversarial part: free-running latents and the critic that judges their frames
(docs/model.md, "Decoder tuned on samples").

Teacher-forced pairs show the decoder the dynamics' latents one step from the truth. A player sees
latents tens or thousands of steps from it, where the rollout has drifted to latents no real frame
encodes to, and the decoder renders those as a smear (sharpness 0.35 at horizon 64 on the sixth
maze). Such latents have no true frame to regress on: after the drift, the real game shows some
other place. What they can be asked is to look real. So the stage rolls the frozen dynamics out once
from training clips with the clips' own actions (`RolloutBank`), and a patch critic
(tokenizer_losses.TokenizerCritic, trained from scratch) learns to tell real frames from those
latents' decodes; the decoder minimises its term, scaled by the adaptive weight against the
supervised terms, so the decodes gain edges and texture where the critic sees none.

The dynamics and the encoder are frozen, so the bank never goes stale: it is built once, at the
stage's start, as a pure function of (seed, world), and a resumed run rebuilds the same one.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from vidgen_rt.metrics.sharpness import sharpness
from vidgen_rt.model.world_model import WorldModel
from vidgen_rt.runtime.factory import open_stepper
from vidgen_rt.train.batches import ClipSampler
from vidgen_rt.train.tokenizer_losses import TokenizerCritic

# Rollouts in the bank, generated as one batch: 64 × 128 frames gives 8,192 latents of every horizon
# from 1 to 128, about 33 MB, built in a minute or two on one core for the small preset.
BANK_ROLLOUTS = 64
# Rollouts whose real frames the bank keeps for its sharpness figure.
FIGURE_ROLLOUTS = 8


class RolloutBank:
    """Latents (N, C, h, w) the frozen dynamics generated free-running from real context, the horizon
    (1-based) of each, and the real frames at the same steps of the first FIGURE_ROLLOUTS rollouts
    (uint8 (M, H, W, 3), M = FIGURE_ROLLOUTS × frames), which `decoded_sharpness` compares against."""

    def __init__(self, latents: torch.Tensor, horizons: np.ndarray, real: np.ndarray,
                 actions: torch.Tensor | None = None):
        self.latents, self.horizons, self.real = latents, horizons, real
        self.actions = actions   # (rollouts, frames): the action that produced each generated latent

    @torch.no_grad()
    def decoded_sharpness(self, model: WorldModel) -> float:
        """Sharpness of the decoded latents of the first FIGURE_ROLLOUTS rollouts against the real game
        at the same steps: the figure the adversarial term aims at, logged before and after the stage."""
        decoded = np.concatenate([model.decode_latents(chunk) for chunk in self.latents[:len(self.real)].split(256)])
        return round(sharpness(decoded, self.real), 4)

    @classmethod
    @torch.no_grad()
    def generate(cls, model: WorldModel, sampler: ClipSampler, rng: np.random.Generator, frames: int,
                 precision: str = "fp32", rollouts: int = BANK_ROLLOUTS, quiet: bool = True) -> "RolloutBank":
        """Roll `rollouts` clips of `sampler` (window + `frames` frames each) out for `frames` steps from
        their first `window` frames, with the clips' actions and conditions, at temperature 1."""
        window = model.config.window
        if sampler.length != window + frames:
            raise ValueError(f"the bank's clips are {sampler.length} frames; it needs {window + frames}")
        clips = sampler.sample(rng, rollouts)
        context = torch.stack([model.encode_frames(clip[:window]) for clip in clips.frames])  # (N, W, C, h, w)
        stepper = open_stepper(model, "torch", batch=rollouts, precision=precision, seed=int(rng.integers(2 ** 31)),
                               temperature=1.0)
        conditions = [clips.cond, clips.guide]   # (N, W+F, ...) each, or None
        current = stepper.start(context, clips.actions[:, :window - 1],
                                *[None if c is None else c[:, 1:window] for c in conditions])
        generated = []
        for t in tqdm(range(window - 1, window - 1 + frames), desc="decoder: free-running bank", unit="frame",
                      disable=quiet):
            current = stepper.advance(current, clips.actions[:, t].numpy(),
                                      *[None if c is None else c[:, t + 1] for c in conditions])
            generated.append(current.float())
        latents = torch.stack(generated, dim=1).flatten(0, 1)   # (N·F, C, h, w), rollout-major
        horizons = np.tile(np.arange(1, frames + 1), rollouts)
        real = clips.frames[:FIGURE_ROLLOUTS, window:].reshape(-1, *clips.frames.shape[2:])
        return cls(latents, horizons, real, actions=clips.actions[:, window - 1:window - 1 + frames].clone())

    def sample(self, rng: np.random.Generator, count: int) -> torch.Tensor:
        """`count` latents drawn uniformly (every horizon equally often)."""
        return self.latents[torch.from_numpy(rng.integers(0, len(self.latents), size=count))]

    def windows(self, rng: np.random.Generator, count: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`count` runs of `length` consecutive generated latents, (count, length, C, h, w), each from a
        random rollout and start, and their actions (count, length) as the dynamics' input takes them:
        action i leads from latent i to latent i + 1."""
        rollouts, frames = self.actions.shape
        if length >= frames:
            raise ValueError(f"windows of {length} latents need rollouts longer than the bank's {frames} frames")
        rollout = rng.integers(0, rollouts, size=count)
        start = rng.integers(0, frames - length, size=count)
        steps = start[:, None] + np.arange(length)[None, :]                    # (count, length)
        latents = self.latents[torch.from_numpy(rollout[:, None] * frames + steps)]
        actions = self.actions[torch.from_numpy(rollout[:, None]), torch.from_numpy(steps + 1)]
        return latents, actions


class BankAdversary:
    """The critic's side of the decoder stage: each step the critic takes one hinge update on real
    frames against decodes of bank latents, and from `start_step` on the decoder pays the critic's
    generator term on them, × `weight` × the adaptive weight against the supervised loss."""

    def __init__(self, bank: RolloutBank, critic: TokenizerCritic, weight: float, start_step: int,
                 last_layer: torch.Tensor):
        self.bank, self.critic, self.weight = bank, critic, weight
        self.start_step, self.last_layer = start_step, last_layer

    def add_term(self, supervised: torch.Tensor, decoder, real: torch.Tensor, rng: np.random.Generator,
                 step: int, critic_lr: float, autocast) -> tuple[torch.Tensor, dict]:
        """`supervised` plus the adversarial term for a decoder step; `real` (B, 3, H, W) in [0, 1]."""
        latents = self.bank.sample(rng, len(real))
        active = step >= self.start_step
        with torch.set_grad_enabled(active), autocast():
            decoded = decoder(latents).float()
        return self.critic.add_term(supervised, real, decoded, critic_lr, self.weight, self.last_layer, active)
