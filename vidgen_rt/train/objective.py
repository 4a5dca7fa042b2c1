"""The dynamics stage's objective as one module, so DDP sees the transformer and its head in one forward.

"mse" (the seed's objective): the squared error of the predicted next latents. A flow head
(docs/architecture.md §3): flow matching — for each predicted frame R draws of (t, ε), x_t = (1-t)·ε +
t·x1, and the squared error of the head's velocity against x1 - ε, conditioned on that frame's
head_cond. Both return one loss per clip, so the trainer can average teacher-forced and self-rollout
passes separately. All randomness comes in as tensors (from the step's batch generator), which keeps
every batch a pure function of (seed, step, rank).

Given `sample_noise`, a flow head also samples the last frame of the first F clips in K Euler steps,
with gradient, in the same forward (so DDP sees it): what train/head_adversary.py's critic judges.
"""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from vidgen_rt.model.heads import flow_matching_loss, sample


class DynamicsObjective(nn.Module):
    def __init__(self, dynamics: nn.Module):
        super().__init__()
        self.dynamics = dynamics

    def forward(self, inputs, actions, targets, noise_level=None, cond=None, guide=None, flow_t=None,
                flow_noise=None, sample_noise=None):
        """inputs/targets (B, T, C, h, w), actions (B, T), noise_level (B, T) of the inputs; for a flow
        head flow_t (R·B·T,) and flow_noise (R·B·T, C, h, w). Returns the loss of each clip, (B,), and
        with sample_noise (F, C, h, w) also the F sampled last frames, (F, C, h, w)."""
        out = self.dynamics(inputs, actions, cond, guide, noise_level)
        B, T = actions.shape
        if not self.dynamics.is_flow:
            return F.mse_loss(out.float(), targets, reduction="none").reshape(B, -1).mean(dim=1)
        per_draw = flow_matching_loss(self.dynamics.sampler, out.flatten(0, 1), targets.flatten(0, 1),
                                      flow_t, flow_noise)  # (R·B·T,)
        per_clip = per_draw.reshape(-1, B, T).mean(dim=(0, 2))
        if sample_noise is None:
            return per_clip
        last = out[:sample_noise.shape[0], -1]  # (F, N, D): head_cond of each clip's last frame
        samples = sample(self.dynamics.sampler, last, sample_noise.to(last.dtype), self.dynamics.config.sampling_steps)
        return per_clip, samples
