"""WorldModel: the tokenizer and the dynamics transformer of one world, with pixel-level helpers.

Pixels go in and out as uint8 (T, H, W, 3) arrays, the way worlds, stores and videos hold them;
latents stay torch tensors (T, C, h, w). The cached generation loop that steps the dynamics through
the KV ring is `TorchStepper` (runtime/torch_stepper.py), opened with `vidgen_rt.open_stepper`.

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
from vidgen_rt.errors import DataError
from vidgen_rt.model.dynamics import FrameCausalTransformer
from vidgen_rt.model.tokenizer import FrameTokenizer
from vidgen_rt.worlds.renderer import MAX_DEPTH
from vidgen_rt.worlds.textures import MATERIAL_NAMES

# Divisors that bring each named guide of the built-in worlds to [0, 1]: depth in tiles over the
# renderer's farthest floor/ceiling distance, wall id (0 = floor/ceiling, 1..K = material) over K.
GUIDE_SCALES = {"depth": MAX_DEPTH, "wall_id": float(len(MATERIAL_NAMES))}


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in [0, 1]."""
    frames = np.ascontiguousarray(frames)
    if not frames.flags.writeable:  # memory-mapped stores: torch warns on read-only arrays
        frames = frames.copy()
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)


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

    def parameter_count(self) -> dict:
        return {"tokenizer": sum(p.numel() for p in self.tokenizer.parameters()),
                "dynamics": sum(p.numel() for p in self.dynamics.parameters())}
