"""FrameTokenizer: a convolutional autoencoder between RGB frames and a grid of continuous latents.

An H×W×3 frame becomes (H/f)×(W/f)×C latents (f = `downsample`, a power of two); the decoder maps
latents back to pixels. Latents pass through tanh so they stay in [-1, 1]: the dynamics model
predicts them autoregressively, and a bounded target keeps long rollouts from drifting off to
values the decoder never saw. Only Conv, GroupNorm, SiLU, nearest-neighbour Resize and Tanh are
used, all of which export to standard ONNX ops. The losses that train it are in
vidgen_rt/train/tokenizer_losses.py.
"""

import math

import torch
from torch import nn

from vidgen_rt.config import ModelConfig


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
            _norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x):
        return x + self.body(x)


class FrameTokenizer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        stages = int(math.log2(config.downsample))
        widths = [config.tokenizer_width * 2 ** i for i in range(stages + 1)]
        # Residual blocks only below full resolution: at 64x64 they would cost more than the whole
        # transformer step, and decode runs every generated frame.
        encoder = [nn.Conv2d(3, widths[0], 3, padding=1)]
        for i in range(stages):
            encoder += [nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1), ResBlock(widths[i + 1])]
        encoder += [_norm(widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], config.latent_channels, 1)]
        self.encoder = nn.Sequential(*encoder)

        decoder = [nn.Conv2d(config.latent_channels, widths[-1], 3, padding=1), ResBlock(widths[-1])]
        for i in reversed(range(stages)):
            decoder += [nn.Upsample(scale_factor=2, mode="nearest"),
                        nn.Conv2d(widths[i + 1], widths[i], 3, padding=1)]
            if i > 0:
                decoder.append(ResBlock(widths[i]))
        decoder += [_norm(widths[0]), nn.SiLU(), nn.Conv2d(widths[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*decoder)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (B, 3, H, W) float in [0, 1] -> latents (B, C, H/f, W/f) in [-1, 1]."""
        return torch.tanh(self.encoder(frames * 2.0 - 1.0))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, C, h, w) -> frames (B, 3, H, W) float, nominally in [0, 1] (not clamped)."""
        return self.decoder(latents) * 0.5 + 0.5

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(frames))

    @property
    def last_layer(self) -> torch.Tensor:
        """Weight of the decoder's final convolution, where the adversarial term's weight is measured."""
        return self.decoder[-1].weight

