"""Stage `decoder`: the tokenizer's decoder tuned on the world's own samples (docs/model.md,
"Decoder tuned on samples").

The decoder learns to render the encoder's latents of real frames. The dynamics never produce those
exactly: its next latents, sampled or regressed, miss whatever the window could not pin down, and
the decoder renders such off-target latents as a blurred frame. This stage keeps the encoder and the
dynamics frozen and fits the decoder on pairs (the dynamics' next latents from real context, the
real next frame), with the detail term (tokenizer_losses.detail_loss) that charges blur: the decoder
learns to draw the sharp frame that a sample of that kind stood for. A second term on the encoder's
own latents (`train.decoder_truth_weight`) keeps the tokenizer's reconstructions.

Teacher forcing gives every sample its true next frame, so the pairs need no alignment; a flow head
samples at temperature 1 from ε drawn by the step's generator, so a resumed run repeats its batches.
Nothing in the exported graphs changes but decode.onnx's weights.

Teacher forcing shows the decoder latents one step from the truth only; with
`train.decoder_adv_weight` > 0 a patch critic also judges its decodes of free-running latents, many
steps from it (train/rollout_bank.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidgen_rt.metrics.image import psnr
from vidgen_rt.metrics.sharpness import sharpness
from vidgen_rt.model.world_model import WorldModel, frames_to_tensor
from vidgen_rt.train.batches import ClipSampler, target_conditions
from vidgen_rt.train.rollout_bank import BankAdversary
from vidgen_rt.train.tokenizer_losses import reconstruction_loss


class SampleDecoder(nn.Module):
    """The tokenizer's decode as the module the stage trains: only the decoder's parameters need
    gradients (the encoder stays frozen), and DDP sees one forward."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.tokenizer = model.tokenizer

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.tokenizer.decode(latents)


def freeze_all_but_decoder(model: WorldModel) -> None:
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in model.tokenizer.decoder.parameters():
        parameter.requires_grad_(True)


def teacher_forced_samples(model: WorldModel, batch, rng, conditions: dict):
    """(real frames (B, T, 3, H, W), their latents (B, T, C, h, w), the dynamics' next latents of
    frames 1..T-1 from the true context, a flow head's at temperature 1)."""
    frames = batch.frames  # (B, T, H, W, 3) uint8
    clips, length = frames.shape[:2]
    real = frames_to_tensor(frames.reshape(-1, *frames.shape[2:]))
    real = real.reshape(clips, length, *real.shape[1:])
    latents = model.tokenizer.encode(real.flatten(0, 1)).float()
    latents = latents.reshape(clips, length, *latents.shape[1:])
    noise = torch.from_numpy(rng.standard_normal(latents[:, 1:].shape)).float()
    samples = model.dynamics.predict(latents[:, :-1], batch.actions[:, :-1], noise=noise, **conditions).float()
    return real, latents, samples


@torch.no_grad()
def decoded_sample_figures(model: WorldModel, batch, rng, conditions: dict) -> dict:
    """PSNR (dB) and sharpness of decoded teacher-forced samples against the real next frames: what
    the stage improves, logged before and after it."""
    _, _, samples = teacher_forced_samples(model, batch, rng, conditions)
    decoded = model.decode_latents(samples.flatten(0, 1))
    truth = batch.frames[:, 1:].reshape(decoded.shape)
    return {"decoded_sample_psnr": round(float(np.mean(psnr(decoded, truth))), 3),
            "decoded_sample_sharpness": round(sharpness(decoded, truth), 4)}


def decoder_loss_fn(model: WorldModel, sampler: ClipSampler, train, autocast,
                    adversary: BankAdversary | None = None, progress=None):
    """The stage's loss function for Trainer._loop. With an `adversary` (train.decoder_adv_weight > 0),
    `progress()` gives the (step, critic learning rate) its update uses."""

    def loss_fn(decoder, rng):
        batch = sampler.sample(rng, train.decoder_batch_size)
        with torch.no_grad(), autocast():
            real, latents, samples = teacher_forced_samples(model, batch, rng, target_conditions(batch))
        targets = real[:, 1:].flatten(0, 1)
        with autocast():
            from_samples = decoder(samples.flatten(0, 1)).float()
            from_truth = decoder(latents[:, 1:].flatten(0, 1)).float()
        sample_term = reconstruction_loss(from_samples, targets, train.tokenizer_edge_weight,
                                          train.decoder_detail_weight)
        truth_term = reconstruction_loss(from_truth, targets, train.tokenizer_edge_weight,
                                         train.decoder_detail_weight)
        loss = sample_term + train.decoder_truth_weight * truth_term
        extras = {"sample_loss": sample_term.item(), "truth_loss": truth_term.item()}
        if adversary is None:
            return loss, extras
        step, critic_lr = progress()
        loss, adversarial = adversary.add_term(loss, decoder, targets, rng, step, critic_lr, autocast)
        return loss, {**extras, **adversarial}

    return loss_fn
