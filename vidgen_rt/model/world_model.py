"""WorldModel: the tokenizer and the dynamics transformer of one world, with pixel-level helpers.

Pixels go in and out as uint8 (T, H, W, 3) arrays, the way worlds, stores and videos hold them;
latents stay torch tensors (T, C, h, w). `rollout` is the reference PyTorch generation loop: encode
real context frames through the cached step, then generate with the caller's actions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidgen_rt.config import ModelConfig
from vidgen_rt.model.dynamics import FrameCausalTransformer
from vidgen_rt.model.kv_ring import KVRing
from vidgen_rt.model.tokenizer import FrameTokenizer


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_frames(images: torch.Tensor) -> np.ndarray:
    """float (T, 3, H, W), nominally [0, 1] -> uint8 (T, H, W, 3), rounded and clipped."""
    return images.float().clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


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
    def start(self, context_latents: torch.Tensor, context_actions: torch.Tensor) -> tuple[KVRing, torch.Tensor]:
        """Feed real context through the cached step.

        context_latents (B, K, C, h, w) of frames 0..K-1, context_actions (B, K-1) taken between
        them. Returns the ring holding frames 0..K-2 and the latents of frame K-1 (the current one).
        """
        B, K = context_latents.shape[:2]
        ring = KVRing(self.config, B, dtype=context_latents.dtype)
        for t in range(K - 1):
            self.advance(ring, context_latents[:, t], context_actions[:, t])
        return ring, context_latents[:, K - 1]

    @torch.no_grad()
    def advance(self, ring: KVRing, latents: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """One generated frame: step from `latents` with `action` (B,), push its keys/values."""
        next_latents, new_kv = self.dynamics.step(latents, action, None, None, ring.kv, ring.lags)
        ring.push(new_kv)
        return next_latents

    @torch.no_grad()
    def rollout(self, context_frames: np.ndarray, context_actions: np.ndarray,
                actions: np.ndarray) -> np.ndarray:
        """Generate len(actions) frames for one stream.

        context_frames uint8 (K, H, W, 3), context_actions (K-1,) between them, actions (T,): the
        action taken after the last context frame and after each generated one. Returns uint8
        (T, H, W, 3), the frames following the context.
        """
        latents = self.encode_frames(context_frames).unsqueeze(0)  # (1, K, C, h, w)
        ring, current = self.start(latents, torch.as_tensor(context_actions, dtype=torch.int64)[None])
        generated = []
        for action in np.asarray(actions, dtype=np.int64):
            current = self.advance(ring, current, torch.tensor([action]))
            generated.append(current[0])
        return self.decode_latents(torch.stack(generated))

    def parameter_count(self) -> dict:
        return {"tokenizer": sum(p.numel() for p in self.tokenizer.parameters()),
                "dynamics": sum(p.numel() for p in self.dynamics.parameters())}
