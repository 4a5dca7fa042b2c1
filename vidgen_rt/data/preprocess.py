"""Frame preprocessing: resize (with optional center crop), light denoising, uint8 <-> float.

Ingest runs a `Preprocess` on every decoded frame, so a store always holds frames at the model's
size: crop to the target aspect if asked, resize, then denoise at the target size (denoising after
the resize costs tens of milliseconds per 64x64 frame instead of seconds per 1080p frame, and the
area-averaging resize has already removed most sensor grain). Training and generation use `to_float`
and `to_uint8`, which take numpy arrays or torch tensors alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vidgen_rt.errors import DataError

MAX_SIDE = 4096  # larger targets are a typo, not a world model: refuse before allocating
MODES = ("area", "linear", "nearest")


def center_crop_box(height: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    """(top, left, crop_h, crop_w) of the largest centered box of width/height ratio `aspect`."""
    if width / height > aspect:
        crop_w, crop_h = max(1, round(height * aspect)), height
    else:
        crop_w, crop_h = width, max(1, round(width / aspect))
    return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def resize_frame(frame: np.ndarray, height: int, width: int, mode: str = "area",
                 crop: bool = False) -> np.ndarray:
    """Resize one (H, W, 3) uint8 frame; `crop` keeps the aspect by center-cropping first.

    Mode "area" averages pixels when shrinking (no aliasing shimmer on fine textures, which a model
    would otherwise learn as flicker) and interpolates linearly when growing; "nearest" keeps the
    hard edges of pixel-art games.
    """
    if crop:
        top, left, crop_h, crop_w = center_crop_box(frame.shape[0], frame.shape[1], width / height)
        frame = frame[top:top + crop_h, left:left + crop_w]
    src_h, src_w = frame.shape[:2]
    if (src_h, src_w) == (height, width):
        return np.ascontiguousarray(frame)
    if mode == "nearest":
        interpolation = cv2.INTER_NEAREST
    elif mode == "area" and height <= src_h and width <= src_w:
        interpolation = cv2.INTER_AREA
    else:
        interpolation = cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(frame), (width, height), interpolation=interpolation)


def resize_frames(frames: np.ndarray, height: int, width: int, mode: str = "area",
                  crop: bool = False) -> np.ndarray:
    """Resize (T, H, W, 3) uint8 frames to (T, height, width, 3); see `resize_frame`."""
    frames = _checked_frames(frames)
    _check_size(height, width)
    _check_mode(mode)
    out = np.empty((len(frames), height, width, 3), np.uint8)
    for t, frame in enumerate(frames):
        out[t] = resize_frame(frame, height, width, mode, crop)
    return out


def denoise_frame(frame: np.ndarray, strength: float) -> np.ndarray:
    """Non-local-means denoising of one RGB uint8 frame; `strength` is OpenCV's filter h (0 = off).

    Non-local means removes codec blocking and grain yet keeps sprite edges and HUD text sharp,
    which a bilateral filter smears at useful strengths. It works per frame on purpose: the
    temporal variant costs several times more and blends neighbouring frames, which ghosts exactly
    the motion the model has to learn. Sensible strengths are 3 (light) to 10 (strong).
    """
    if strength <= 0:
        return frame
    bgr = np.ascontiguousarray(frame[..., ::-1])  # OpenCV converts to Lab assuming BGR order
    out = cv2.fastNlMeansDenoisingColored(bgr, None, float(strength), float(strength), 7, 21)
    return np.ascontiguousarray(out[..., ::-1])


def denoise_frames(frames: np.ndarray, strength: float) -> np.ndarray:
    """Denoise (T, H, W, 3) uint8 frames one by one; see `denoise_frame`."""
    frames = _checked_frames(frames)
    _check_strength(strength)
    if strength == 0:
        return frames
    return np.stack([denoise_frame(frame, strength) for frame in frames])


def to_float(frames):
    """uint8 frames (numpy or torch) -> float32 in [0, 1], same container type."""
    torch = _torch_or_none(frames)
    if frames.dtype != (np.uint8 if torch is None else torch.uint8):
        raise TypeError(f"to_float expects uint8 frames, got {frames.dtype}")
    if torch is None:
        return frames.astype(np.float32) / np.float32(255)
    return frames.float() / 255.0


def to_uint8(x):
    """Float frames in [0, 1] (numpy or torch) -> uint8, rounding to nearest; NaN becomes 0."""
    if isinstance(x, np.ndarray):
        scaled = np.clip(np.nan_to_num(x.astype(np.float32), nan=0.0), 0.0, 1.0) * 255
        return np.rint(scaled).astype(np.uint8)
    torch = _torch_or_none(x)
    return x.float().nan_to_num(0.0).clamp(0.0, 1.0).mul(255).round().to(torch.uint8)


@dataclass
class Preprocess:
    """What ingest does to each decoded frame: crop, resize, denoise."""

    height: int
    width: int
    crop: bool = False      # center-crop to the target aspect instead of stretching
    denoise: float = 0.0    # non-local-means strength; 0 = off
    mode: str = "area"

    def __post_init__(self):
        _check_size(self.height, self.width)
        _check_mode(self.mode)
        _check_strength(self.denoise)

    def frame(self, frame: np.ndarray) -> np.ndarray:
        """One (H, W, 3) uint8 frame of any size -> (height, width, 3) uint8."""
        frame = resize_frame(frame, self.height, self.width, self.mode, self.crop)
        return denoise_frame(frame, self.denoise)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = _checked_frames(frames)
        return np.stack([self.frame(f) for f in frames]) if len(frames) else frames

    def as_dict(self) -> dict:
        return asdict(self)


def _torch_or_none(x):
    if isinstance(x, np.ndarray):
        return None
    import torch  # only when a tensor is passed: numpy users never pay torch's import time

    return torch


def _checked_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise DataError(f"frames should be (T, H, W, 3) uint8 RGB, "
                        f"got {frames.dtype} {frames.shape}")
    return frames


def _check_size(height, width) -> None:
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_SIDE:
            raise DataError(f"frame {name} should be an integer in 1..{MAX_SIDE}, got {value!r}")


def _check_mode(mode) -> None:
    if mode not in MODES:
        raise DataError(f"resize mode should be one of {', '.join(MODES)}, got {mode!r}")


def _check_strength(strength) -> None:
    if not isinstance(strength, (int, float)) or not math.isfinite(strength) or strength < 0:
        raise DataError(f"denoise strength should be a number >= 0, got {strength!r}")
