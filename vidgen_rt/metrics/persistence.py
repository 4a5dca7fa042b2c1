"""Object persistence for worlds with small moving objects (a Pong ball, paddles): are they still
there in generated frames as often as in real ones?

The static background is the per-pixel median of the real frames. In each frame, a pixel is
foreground when one of its channels differs from the background by more than `difference` (of
255); foreground pixels form 8-connected blobs, and a blob is a small object when its area is at
most `max_area` (a fraction of the frame). A blurred ball, fainter than the threshold, is absent.

Objects are not tracked by identity (a generated ball has no name); they are counted. Object j
(1-based) is present in a frame holding at least j small objects, so with a ball and two paddles on
screen, object 3 is present only while all three are. The objects of a world are those present in
at least half of the real frames, and

    object_persistence[j] = rate of generated frames with >= j small objects
                            / rate of real frames with >= j small objects

`object_persistence(...)["score"]` is the lowest of these: 1.0 when every object stays as often as
in the real game, near 0 when one (the ball) vanishes. A spurious blob can stand in for a vanished
object, so read it beside the sample strips; compare at one horizon (or over one long rollout).
"""

from __future__ import annotations

import cv2
import numpy as np

from vidgen_rt.errors import DataError
from vidgen_rt.metrics.sharpness import check_frames

DIFFERENCE = 40          # of 255, per channel: the ball at 64x64 differs from Pong's field by ~95
MAX_AREA = 0.005         # of the frame's pixels: 20 px at 64x64 (Pong's paddles are 4-11)
MIN_REAL_RATE = 0.5      # an object must be on screen in at least half of the real frames


def background(real: np.ndarray) -> np.ndarray:
    """The static background (H, W, 3) uint8: per-pixel median of the real frames."""
    return np.median(check_frames(real, "real frames"), axis=0).astype(np.uint8)


def object_counts(frames: np.ndarray, static: np.ndarray, difference: int = DIFFERENCE,
                  max_area: float = MAX_AREA) -> np.ndarray:
    """(T,) number of small foreground blobs in each frame against the background `static`."""
    frames = check_frames(frames, "frames")
    if static.shape != frames.shape[1:]:
        raise DataError(f"background is {static.shape}, frames are {frames.shape[1:]}")
    largest = max_area * frames.shape[1] * frames.shape[2]
    mask = np.abs(frames.astype(np.int16) - static.astype(np.int16)).max(axis=-1) > difference  # (T, H, W)
    counts = np.empty(len(frames), dtype=np.int64)
    for t, frame_mask in enumerate(mask.astype(np.uint8)):
        _, _, stats, _ = cv2.connectedComponentsWithStats(frame_mask, connectivity=8)
        counts[t] = int((stats[1:, cv2.CC_STAT_AREA] <= largest).sum())   # row 0 is the background
    return counts


def world_objects(real_counts: np.ndarray) -> int:
    """How many small objects a world has: object j counts when at least `MIN_REAL_RATE` of the real
    frames hold j or more (the rate falls with j, so the objects are 1..n)."""
    return sum(1 for j in range(1, int(real_counts.max(initial=0)) + 1)
               if np.mean(real_counts >= j) >= MIN_REAL_RATE)


def presence_rates(counts: np.ndarray, objects: int) -> list[float]:
    """For j = 1..`objects`: the rate of frames holding j or more small objects."""
    return [float(np.mean(counts >= j)) for j in range(1, objects + 1)]


def persistence_ratio(generated_counts: np.ndarray, real_counts: np.ndarray, objects: int) -> float:
    """The lowest (rate of generated frames with >= j small objects) / (the same rate in the real
    frames) over objects j = 1..`objects` that the real frames show; NaN when they show none."""
    ratios = [generated / real for generated, real in
              zip(presence_rates(generated_counts, objects), presence_rates(real_counts, objects)) if real > 0]
    return min(ratios) if ratios else float("nan")


def object_persistence(generated: np.ndarray, real: np.ndarray, difference: int = DIFFERENCE,
                       max_area: float = MAX_AREA) -> dict:
    """{"score", "objects", "real_rate", "generated_rate", "ratio"} of generated against real frames
    (both (T, H, W, 3) uint8); the lists have one entry per object (see the file's notes).

    A real clip without any small object present in half of its frames gives score NaN and no
    objects: there is nothing to persist."""
    static = background(real)
    real_counts = object_counts(real, static, difference, max_area)
    objects = world_objects(real_counts)
    real_rate = presence_rates(real_counts, objects)
    generated_rate = presence_rates(object_counts(generated, static, difference, max_area), objects)
    ratio = [g / r for g, r in zip(generated_rate, real_rate)]  # every world object has a real rate >= 1/2
    return {"score": min(ratio) if ratio else float("nan"), "objects": objects,
            "real_rate": real_rate, "generated_rate": generated_rate, "ratio": ratio}
