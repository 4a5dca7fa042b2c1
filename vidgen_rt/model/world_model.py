"""WorldModel: the tokenizer and the dynamics transformer of one world, with pixel-level helpers.

Pixels go in and out as uint8 (T, H, W, 3) arrays, the way worlds, stores and videos hold them;
latents stay torch tensors (T, C, h, w). `rollout` is the reference PyTorch generation loop: encode
real context frames through the cached step, then generate with the caller's actions.

Conditions follow the seed's y_t = f(y_{t-1}, ..., y_{t-m}, x_t): the cond vector and guide map
given with a step describe the frame that step produces, as the action does (`actions[t]` leads to
frame t+1), so a guided model paints the frame whose depth and wall ids it is shown. Guide maps
enter the model normalised by `guide_to_tensor`, the one scale shared by training, generation and
evaluation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidgen_rt.config import ModelConfig
from vidgen_rt.errors import ConfigError, DataError
from vidgen_rt.model.dynamics import FrameCausalTransformer
from vidgen_rt.model.kv_ring import KVRing
from vidgen_rt.model.tokenizer import FrameTokenizer
from vidgen_rt.worlds.renderer import MAX_DEPTH
from vidgen_rt.worlds.textures import MATERIAL_NAMES

# Divisors that bring each named guide of the built-in worlds to [0, 1]: depth in tiles over the
# renderer's farthest floor/ceiling distance, wall id (0 = floor/ceiling, 1..K = material) over K.
GUIDE_SCALES = {"depth": MAX_DEPTH, "wall_id": float(len(MATERIAL_NAMES))}


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_frames(images: torch.Tensor) -> np.ndarray:
    """float (T, 3, H, W), nominally [0, 1] -> uint8 (T, H, W, 3), rounded and clipped."""
    return images.float().clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def guide_to_tensor(guide: np.ndarray, guide_names: list[str] | None) -> torch.Tensor:
    """Stored guide maps (T, G, H, W) -> float32 (T, G, H, W), nominally in [0, 1].

    Channels named in GUIDE_SCALES are divided by their scale and clipped to [0, 1]; other uint8
    channels are divided by 255; other float channels are taken as already normalised.
    """
    guide = np.asarray(guide)
    names = list(guide_names or [])
    if guide.ndim != 4 or guide.shape[1] != len(names):
        raise DataError(f"guide maps: expected (T, {len(names)}, H, W) for channels {names}, got {guide.shape}")
    tensor = torch.from_numpy(guide.astype(np.float32))  # copies, so read-only memory maps are fine
    for channel, name in enumerate(names):
        if name in GUIDE_SCALES:
            tensor[:, channel] = (tensor[:, channel] / GUIDE_SCALES[name]).clamp_(0.0, 1.0)
        elif guide.dtype == np.uint8:
            tensor[:, channel] /= 255.0
    return tensor


class WorldModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tokenizer = FrameTokenizer(config)
        self.dynamics = FrameCausalTransformer(config)

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray, batch: int = 256) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> latents (T, C, h, w), encoded in chunks to bound memory."""
        chunks = [self.tokenizer.encode(frames_to_tensor(frames[i:i + batch]))
                  for i in range(0, len(frames), batch)]
        return torch.cat(chunks)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor, batch: int = 256) -> np.ndarray:
        """latents (T, C, h, w) -> uint8 (T, H, W, 3)."""
        return np.concatenate([tensor_to_frames(self.tokenizer.decode(latents[i:i + batch]))
                               for i in range(0, len(latents), batch)])

    @torch.no_grad()
    def start(self, context_latents: torch.Tensor, context_actions: torch.Tensor,
              context_cond: torch.Tensor | None = None,
              context_guide: torch.Tensor | None = None) -> tuple[KVRing, torch.Tensor]:
        """Feed real context through the cached step.

        context_latents (B, K, C, h, w) of frames 0..K-1, context_actions (B, K-1) taken between
        them; for a conditioned model context_cond (B, K-1, Dc) and context_guide (B, K-1, G, H, W)
        of frames 1..K-1. Returns the ring holding frames 0..K-2 and the latents of frame K-1.
        """
        B, K = context_latents.shape[:2]
        ring = KVRing(self.config, B, dtype=context_latents.dtype)
        for t in range(K - 1):
            self.advance(ring, context_latents[:, t], context_actions[:, t],
                         None if context_cond is None else context_cond[:, t],
                         None if context_guide is None else context_guide[:, t])
        return ring, context_latents[:, K - 1]

    @torch.no_grad()
    def advance(self, ring: KVRing, latents: torch.Tensor, action: torch.Tensor,
                cond: torch.Tensor | None = None, guide: torch.Tensor | None = None) -> torch.Tensor:
        """One generated frame: step from `latents` with `action` (B,), and for a conditioned model
        the cond (B, Dc) and normalised guide (B, G, H, W) of the frame produced; push its keys/values."""
        self._check_conditions(cond, guide)
        next_latents, new_kv = self.dynamics.step(latents, action, cond, guide, ring.kv, ring.lags)
        ring.push(new_kv)
        return next_latents

    def _check_conditions(self, cond, guide) -> None:
        for name, field, value in (("cond", "cond_dim", cond), ("guide", "guide_channels", guide)):
            size = getattr(self.config, field)
            if (value is None) != (size == 0):
                raise ConfigError(f"this world model has model.{field} = {size}, so every step takes "
                                  f"{'a ' + name if size else 'no ' + name}; got "
                                  f"{'none' if value is None else tuple(value.shape)}")

    @torch.no_grad()
    def rollout(self, context_frames: np.ndarray, context_actions: np.ndarray, actions: np.ndarray,
                cond: torch.Tensor | None = None, guide: torch.Tensor | None = None) -> np.ndarray:
        """Generate len(actions) frames for one stream.

        context_frames uint8 (K, H, W, 3), context_actions (K-1,) between them, actions (T,): the
        action taken after the last context frame and after each generated one. A conditioned
        model also takes cond (K-1+T, Dc) and normalised guide (K-1+T, G, H, W): those of every
        frame after the first context frame. Returns uint8 (T, H, W, 3), the frames after the context.
        """
        K, steps = len(context_frames), len(context_frames) - 1 + len(actions)
        for name, value in (("cond", cond), ("guide", guide)):
            if value is not None and len(value) < steps:
                raise ConfigError(f"rollout: {name} covers {len(value)} frames, the rollout needs {steps}")
        latents = self.encode_frames(context_frames).unsqueeze(0)  # (1, K, C, h, w)
        context = [None if c is None else c[None, :K - 1] for c in (cond, guide)]  # (1, K-1, ...)
        ring, current = self.start(latents, torch.as_tensor(context_actions, dtype=torch.int64)[None], *context)
        generated = []
        for t, action in enumerate(np.asarray(actions, dtype=np.int64), start=K - 1):
            step = [None if c is None else c[t:t + 1] for c in (cond, guide)]  # (1, ...) of frame t+1
            current = self.advance(ring, current, torch.tensor([action]), *step)
            generated.append(current[0])
        return self.decode_latents(torch.stack(generated))

    def parameter_count(self) -> dict:
        return {"tokenizer": sum(p.numel() for p in self.tokenizer.parameters()),
                "dynamics": sum(p.numel() for p in self.dynamics.parameters())}
