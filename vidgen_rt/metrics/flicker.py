"""Flicker: the temporal error a clip keeps after motion compensation, measured against real video.

For each pair of consecutive frames (t-1, t) of the REAL clip, dense optical flow (OpenCV Farnebäck)
is computed backwards, from frame t to frame t-1: for every pixel of frame t, where it was in frame
t-1. That is `motion.optical_flow` with the frames swapped; it upscales tiny frames and keeps the
better of a zero start and the global phase-correlation shift, which a maze turn's ~10 px jump
needs. Warping frame t-1 along that flow (`cv2.remap`) predicts frame t from pure motion. The warp
error is the mean absolute difference |warp(frame t-1) - frame t| over pixels and RGB channels, in
0..255 levels, averaged over all pairs.

The same real flow warps the GENERATED clip, so both clips are judged by the motion the real world
had: `generated` is the generated clip's warp error, `real` the real clip's (flow-estimation error,
occlusions and new content entering the view), and `excess = generated - real` is what the model
adds: flicker, popping texture, or motion that disagrees with the real one. A real clip against
itself has excess 0; a frozen clip against a moving real one has a large positive excess. Blurry
output can make the excess slightly negative, since smooth frames warp with less error.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidgen_rt.errors import DataError
from vidgen_rt.metrics.motion import optical_flow


def flicker(generated: np.ndarray, real: np.ndarray) -> dict:
    """Warp errors of `generated` and `real` under the real clip's flow, and their difference.

    generated, real: uint8 (T, H, W, 3) or a batch of clips (E, T, H, W, 3), same shape, T >= 2.
    Returns {"generated": float, "real": float, "excess": float} in 0..255 levels.
    """
    generated, real = np.asarray(generated), np.asarray(real)
    if generated.shape != real.shape or real.ndim not in (4, 5) or real.shape[-4] < 2 or real.shape[-1] != 3:
        raise DataError(f"flicker: expected two clips of the same shape (T>=2, H, W, 3) or (E, T, H, W, 3), "
                        f"got generated {generated.shape} and real {real.shape}")
    clips = [(generated, real)] if real.ndim == 4 else list(zip(generated, real))
    errors = np.array([_warp_errors(g, r) for g, r in clips])  # (E, 2): generated, real
    generated_error, real_error = (float(v) for v in errors.mean(axis=0))
    return {"generated": generated_error, "real": real_error, "excess": generated_error - real_error}


def _warp_errors(generated: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """Mean warp error of one generated clip and of its real clip, (T, H, W, 3) each."""
    height, width = real.shape[1:3]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32),
                                 np.arange(height, dtype=np.float32))  # (H, W) each
    totals = np.zeros(2)
    for t in range(1, len(real)):
        flow = optical_flow(real[t], real[t - 1])  # (H, W, 2): where each pixel of t was in t-1
        map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
        for i, clip in enumerate((generated, real)):
            warped = cv2.remap(clip[t - 1], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            totals[i] += np.abs(warped.astype(np.float32) - clip[t].astype(np.float32)).mean()
    return tuple(totals / (len(real) - 1))

