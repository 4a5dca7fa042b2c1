"""Dense optical flow between consecutive frames, stored as a guide for clips without actions.

A clip with no actions says nothing about what moved; a flow guide does, so a model trained on
recorded or ingested video can be steered by motion instead of by action names. `dense_flow` runs
OpenCV's Farnebäck method on each pair (frame t-1, frame t) and returns the displacement in pixels
that carries frame t-1's content to where it is in frame t; frame 0 has no predecessor and gets zero
flow. `flow_guide` scales that into the [-1, 1] range a model input wants: a displacement of
`scale_pixels` (default 8 pixels per frame, at the store's frame size) maps to 1, and larger motion
is clipped. Channel 0 is horizontal motion (positive = rightwards), channel 1 vertical (positive =
downwards), stored under the guide names "flow_x" and "flow_y".

The same guide steers a flow-guided world at play time: `motion_field` builds the field of a named
motion (the picture pans left, zooms in, stays still ...) that a host feeds every step instead of
the flow of real frames.
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


# Named motions of the picture's content, for steering a flow-guided world. Pans move every pixel by
# the same displacement; zooms move each pixel away from (in) or towards (out) the centre in
# proportion to its distance, reaching the given speed at the frame's edge.
MOTIONS = ("still", "left", "right", "up", "down", "zoom_in", "zoom_out")
PAN_DIRECTIONS = {"still": (0.0, 0.0), "left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
DEFAULT_MOTION_PIXELS = 2.0


def is_flow_guided(guide_names) -> bool:
    """Whether a world's guide maps are this module's flow guide (channel names flow_x, flow_y)."""
    return list(guide_names or []) == FLOW_GUIDE_NAMES


def motion_field(motion: str, height: int, width: int, pixels: float = DEFAULT_MOTION_PIXELS,
                 scale_pixels: float = FLOW_SCALE_PIXELS) -> np.ndarray:
    """The flow guide (2, H, W) float32 of a named motion of `pixels` per frame, scaled like
    `flow_guide` (pixels / scale_pixels, clipped to [-1, 1])."""
    if motion not in MOTIONS:
        raise DataError(f"unknown motion {motion!r}; expected one of {', '.join(MOTIONS)}")
    if not isinstance(pixels, (int, float)) or not math.isfinite(pixels) or pixels < 0:
        raise DataError(f"motion speed should be a number of pixels per frame >= 0, got {pixels!r}")
    field = np.zeros((2, height, width), np.float32)
    if motion in PAN_DIRECTIONS:
        dx, dy = PAN_DIRECTIONS[motion]
        field[0], field[1] = dx * pixels, dy * pixels
    else:
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        x, y = x - (width - 1) / 2, y - (height - 1) / 2
        reach = max(width - 1, height - 1) / 2
        sign = 1.0 if motion == "zoom_in" else -1.0
        field[0], field[1] = sign * pixels * x / reach, sign * pixels * y / reach
    return np.clip(field / np.float32(scale_pixels), -1.0, 1.0)


def parse_motion_script(text: str) -> list[str]:
    """'right*10,still*5,zoom_in*8' -> one motion name per frame."""
    motions: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        name, _, count = item.partition("*")
        if name not in MOTIONS or (count and not (count.isdigit() and int(count) > 0)):
            raise DataError(f"--motion {text!r}: bad item {item!r}; expected NAME or NAME*COUNT with NAME one of "
                            f"{', '.join(MOTIONS)}")
        motions += [name] * (int(count) if count else 1)
    return motions
