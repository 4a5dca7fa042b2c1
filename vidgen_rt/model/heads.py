"""Sampling heads: small generators that turn Gaussian noise into the next frame's latents, conditioned
on the transformer's per-token output `head_cond` (docs/architecture.md §3).

Flow matching (docs/architecture.md §4): t = 0 is noise, t = 1 is data; x_t = (1 - t)·ε + t·x1 and the
head learns the velocity v = x1 - ε. Sampling runs K Euler steps x <- x + dt·v(x, t_k, head_cond)
from x = temperature·ε, t_k = k/K, dt = 1/K; temperature 0 gives the head's deterministic output.

Two designs, trained jointly with the transformer:
- `FlowMLPHead` (MAR-style): every token denoised on its own by a residual MLP that sees the token's
  noisy latents, its head_cond and t. Cheap, but neighbouring tokens are sampled independently.
- `FlowConvHead`: a small convolutional denoiser over the whole latent grid, head_cond laid back on
  the grid, so neighbouring cells are denoised together and stay coherent.

Both are made of Linear/Conv, LayerNorm/GroupNorm, SiLU and elementwise ops: the exported sample graph
is plain standard ONNX that TensorRT takes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vidgen_rt.config import ModelConfig

FLOW_HEADS = ("flow_mlp", "flow_conv")


def grid_to_tokens(latents: torch.Tensor, patch: int) -> torch.Tensor:
    """latents (..., C, h, w) -> (..., N, C·p·p), each token the p×p cells it covers."""
    *lead, C, h, w = latents.shape
    cells = latents.reshape(-1, C, h // patch, patch, w // patch, patch)
    cells = cells.permute(0, 2, 4, 1, 3, 5)  # (L, h/p, w/p, C, p, p)
    return cells.reshape(*lead, (h // patch) * (w // patch), C * patch * patch)


def tokens_to_grid(tokens: torch.Tensor, patch: int, channels: int, height: int, width: int) -> torch.Tensor:
    """The inverse of `grid_to_tokens`: (..., N, C·p·p) -> (..., C, h, w)."""
    *lead, _, _ = tokens.shape
    cells = tokens.reshape(-1, height // patch, width // patch, channels, patch, patch)
    cells = cells.permute(0, 3, 1, 4, 2, 5)  # (L, C, h/p, p, w/p, p)
    return cells.reshape(*lead, channels, height, width)


class TimeEmbedding(nn.Module):
    """t (B,) in [0, 1] -> (B, width): an MLP of t and a few of its sines, enough to tell the head
    how noisy its input is."""

    FREQUENCIES = 8

    def __init__(self, width: int):
        super().__init__()
        self.register_buffer("frequencies", torch.pi * 2.0 ** torch.arange(self.FREQUENCIES, dtype=torch.float32),
                             persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * self.FREQUENCIES + 1, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t[:, None] * self.frequencies.to(t.dtype)  # (B, F)
        return self.mlp(torch.cat([t[:, None], angles.sin(), angles.cos()], dim=-1))


class FlowMLPHead(nn.Module):
    """Per-token residual MLP: v(x_token, t, head_cond_token), shared by every token."""

    def __init__(self, config: ModelConfig, width: int | None = None, depth: int = 3):
        super().__init__()
        width = width or config.d_model
        self.config = config
        self.x_in = nn.Linear(config.token_channels, width)
        self.cond_in = nn.Linear(config.d_model, width)
        self.time = TimeEmbedding(width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))
            for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, config.token_channels))
        nn.init.zeros_(self.out[1].weight)  # start at v = 0: no step moves x before training
        nn.init.zeros_(self.out[1].bias)

    @property
    def output_weight(self) -> nn.Parameter:
        """The last layer's weight, where an adaptive loss weight compares gradients."""
        return self.out[1].weight

    def forward(self, x: torch.Tensor, t: torch.Tensor, head_cond: torch.Tensor) -> torch.Tensor:
        """x (B, C, h, w), t (B,), head_cond (B, N, D) -> velocity (B, C, h, w)."""
        c = self.config
        tokens = grid_to_tokens(x, c.token_patch)  # (B, N, C·p·p)
        h = self.x_in(tokens) + self.cond_in(head_cond) + self.time(t)[:, None, :]  # (B, N, width)
        for block in self.blocks:
            h = h + block(h)
        return tokens_to_grid(self.out(h), c.token_patch, c.latent_channels, c.latent_height, c.latent_width)


class ConvBlock(nn.Module):
    """GroupNorm, then a per-channel scale and shift from t, SiLU, 3×3 conv; residual."""

    def __init__(self, channels: int, time_width: int):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.modulation = nn.Linear(time_width, 2 * channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(time)[:, :, None, None].chunk(2, dim=1)  # each (B, ch, 1, 1)
        y = F.silu(self.norm(h) * (1 + scale) + shift)
        return h + self.conv2(F.silu(self.conv1(y)))


class FlowConvHead(nn.Module):
    """Conv denoiser over the whole latent grid: v(x, t, head_cond laid back on the grid)."""

    def __init__(self, config: ModelConfig, channels: int | None = None, depth: int = 3):
        super().__init__()
        channels = channels or max(32, config.d_model // 4)  # 64 for the small preset's d_model 256
        self.config = config
        self.cond_channels = channels // 2
        # Each token's head_cond becomes cond_channels features on every one of its p×p cells.
        self.cond_in = nn.Linear(config.d_model, self.cond_channels * config.token_patch ** 2)
        self.x_in = nn.Conv2d(config.latent_channels + self.cond_channels, channels, 3, padding=1)
        self.time = TimeEmbedding(channels)
        self.blocks = nn.ModuleList(ConvBlock(channels, channels) for _ in range(depth))
        self.out = nn.Sequential(nn.GroupNorm(8, channels), nn.SiLU(),
                                 nn.Conv2d(channels, config.latent_channels, 3, padding=1))
        nn.init.zeros_(self.out[2].weight)
        nn.init.zeros_(self.out[2].bias)

    @property
    def output_weight(self) -> nn.Parameter:
        """The last layer's weight, where an adaptive loss weight compares gradients."""
        return self.out[2].weight

    def forward(self, x: torch.Tensor, t: torch.Tensor, head_cond: torch.Tensor) -> torch.Tensor:
        """x (B, C, h, w), t (B,), head_cond (B, N, D) -> velocity (B, C, h, w)."""
        c = self.config
        cond = tokens_to_grid(self.cond_in(head_cond), c.token_patch, self.cond_channels,
                              c.latent_height, c.latent_width)  # (B, cond_channels, h, w)
        h = self.x_in(torch.cat([x, cond], dim=1))  # (B, channels, h, w)
        time = self.time(t)
        for block in self.blocks:
            h = block(h, time)
        return self.out(h)


def build_head(config: ModelConfig) -> nn.Module | None:
    """The flow head a config names; None for "mse" (its readout is a Linear inside the transformer)."""
    if config.head == "flow_mlp":
        return FlowMLPHead(config)
    if config.head == "flow_conv":
        return FlowConvHead(config)
    return None


def fused_sampling_steps(default_steps: int) -> tuple[int, ...]:
    """The K values a bundle also exports as one fused graph `sample_k{K}` (noise and all K Euler
    steps in one call, docs/architecture.md §4): the K = 1, 2, 4 that benchmarks compare and the
    model's default. Any other K runs noise.onnx and then sample.onnx K times."""
    return tuple(sorted({1, 2, 4, int(default_steps)}))


def euler_times(steps: int) -> list[tuple[float, float]]:
    """(t_k, dt) of K Euler steps as float32 values, the same numbers every runtime feeds sample.onnx."""
    K = torch.tensor(float(steps), dtype=torch.float32)
    dt = (torch.tensor(1.0) / K).item()
    return [((torch.tensor(float(k)) / K).item(), dt) for k in range(steps)]


def sample(head: nn.Module, head_cond: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """K Euler steps from `noise` (B, C, h, w), already scaled by the temperature -> latents."""
    x = noise
    for t, dt in euler_times(steps):
        x = sample_step(head, head_cond, x, torch.tensor([t], dtype=torch.float32),
                        torch.tensor([dt], dtype=torch.float32))
    return x


def sample_step(head: nn.Module, head_cond, x, t, dt):
    """One Euler step, exactly sample.onnx: x + dt·v(x, t, head_cond); t and dt are float32 (1,)."""
    velocity = head(x, t.to(x.dtype).expand(x.shape[0]), head_cond)
    return x + dt.to(x.dtype) * velocity


def flow_matching_loss(head: nn.Module, head_cond: torch.Tensor, targets: torch.Tensor, t: torch.Tensor,
                       noise: torch.Tensor) -> torch.Tensor:
    """Squared velocity error of each draw, (R·F,). head_cond (F, N, D), targets (F, C, h, w) of F
    frames; t (R·F,) and noise (R·F, C, h, w) hold R draws per frame, which share its head_cond."""
    repeats = t.shape[0] // targets.shape[0]
    x1 = targets.repeat(repeats, 1, 1, 1)
    cond = head_cond.repeat(repeats, 1, 1)
    tt = t[:, None, None, None]
    x_t = (1 - tt) * noise + tt * x1
    error = head(x_t.to(cond.dtype), t.to(cond.dtype), cond).float() - (x1 - noise).float()
    return error.square().mean(dim=(1, 2, 3))
