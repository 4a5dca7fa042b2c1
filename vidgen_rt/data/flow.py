"""Dense optical flow between consecutive frames, stored as a guide for clips without actions.

A clip with no actions says nothing about what moved; a flow guide does, so a model trained on
recorded or ingested video can be steered by motion instead of by action names. `dense_flow` runs
OpenCV's Farnebäck method on each pair (frame t-1, frame t) and returns the displacement in pixels
that carries frame t-1's content to where it is in frame t; frame 0 has no predecessor and gets zero
flow. `flow_guide` scales that into the [-1, 1] range a model input wants: a displacement of
`scale_pixels` (default 8 pixels per frame, at the store's frame size) maps to 1, and larger motion
is clipped. Channel 0 is horizontal motion (positive = rightwards), channel 1 vertical (positive =
downwards), stored under the guide names "flow_x" and "flow_y".
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vidgen_rt.errors import DataError

FLOW_GUIDE_NAMES = ["flow_x", "flow_y"]
FLOW_SCALE_PIXELS = 8.0

# Farnebäck settings for the small frames a store holds. OpenCV builds no pyramid level under 32
# pixels a side, so a 64x64 frame gets one coarser level and motion is followed up to about 5 pixels
# per frame along an axis (7 diagonally); 128x128 frames reach past 8. Upsampling the frames first
# does not help: it smooths away the texture the polynomial fit needs and biases the estimate.
# A 15-pixel window with the 7-pixel polynomial fit (OpenCV's suggested sigma 1.5 for it) tracked
# farther than the 5-pixel fit on synthetic translations.
_PYRAMID_SCALE = 0.5
_PYRAMID_LEVELS = 3
_WINDOW = 15
_ITERATIONS = 3
_POLY_NEIGHBOURHOOD = 7
_POLY_SIGMA = 1.5


def dense_flow(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames -> (T, 2, H, W) float32 flow in pixels; flow[0] is zero."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise DataError(f"optical flow needs (T, H, W, 3) uint8 RGB frames, "
                        f"got {frames.dtype} {frames.shape}")
    length, height, width = frames.shape[:3]
    flow = np.zeros((length, 2, height, width), np.float32)
    previous = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY) if length else None
    for t in range(1, length):
        current = cv2.cvtColor(frames[t], cv2.COLOR_RGB2GRAY)
        pair = cv2.calcOpticalFlowFarneback(previous, current, None, _PYRAMID_SCALE, _PYRAMID_LEVELS,
                                            _WINDOW, _ITERATIONS, _POLY_NEIGHBOURHOOD, _POLY_SIGMA, 0)
        flow[t] = pair.transpose(2, 0, 1)  # (H, W, 2) -> (2, H, W)
        previous = current
    return flow


def flow_guide(frames: np.ndarray, scale_pixels: float = FLOW_SCALE_PIXELS) -> np.ndarray:
    """(T, H, W, 3) uint8 frames -> (T, 2, H, W) float32 flow / scale_pixels, clipped to [-1, 1]."""
    if not isinstance(scale_pixels, (int, float)) or not math.isfinite(scale_pixels) or scale_pixels <= 0:
        raise DataError(f"flow scale_pixels should be a number > 0, got {scale_pixels!r}")
    return np.clip(dense_flow(frames) / np.float32(scale_pixels), -1.0, 1.0)
