"""Realism for recorded games and videos, where no bank of true renders exists: k-nearest-neighbour
precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen and Aila, NeurIPS 2019).

Real and generated frames become points in one feature space. Each real point gets a ball whose
radius is the distance to its k-th nearest real neighbour (itself excluded); the union of those
balls estimates the manifold of real frames. Likewise for generated points.

    precision = fraction of generated frames inside the real manifold  (do they look real?)
    recall    = fraction of real frames inside the generated manifold  (is every kind of real frame
                produced?, so a frozen or collapsed rollout scores low)

Feature space (fixed, no downloaded weights): each frame is area-downsampled to 16×16 RGB, scaled
to [0, 1] and flattened (768 values), then projected on the first 64 principal components of the
*real* frames (centred on their mean, not whitened, so distances stay Euclidean pixel distances in
the subspace that real frames vary in), plus one more coordinate: the norm of what the projection
leaves out. Without it, noise (whose energy lies almost all outside the real frames' subspace)
projects onto the mean real frame and lands inside the real manifold.
Fit the PCA and the real manifold on held-out real frames that the model never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidgen_rt.errors import DataError
from vidgen_rt.metrics.sharpness import check_frames

FEATURE_SIDE = 16
FEATURE_COMPONENTS = 64
# The paper's k = 3 suits its 50,000-sample sets; an evaluation has a few thousand frames, whose
# 3rd-neighbour balls are too small to cover other real frames: measured on 1,000 held-out maze frames
# (fixed level, 32x32) against 1,000 real ones, k = 3 gives precision/recall 0.46/0.48, k = 10 gives
# 0.90/0.74 (noise frames score 0.00/0.00 at both; the same frames blurred, σ = 1.5 px: 0.96/0.51).
NEIGHBOURS = 10
DISTANCE_CHUNK = 1024  # rows of a pairwise distance block: 1024 x 10,000 float32 = 40 MB


@dataclass(frozen=True)
class PixelPCA:
    """The fixed feature space: downsampled pixels projected on the real frames' principal axes."""

    mean: np.ndarray     # (D,) float32
    axes: np.ndarray     # (D, C) float32, orthonormal columns

    @classmethod
    def fit(cls, real: np.ndarray, components: int = FEATURE_COMPONENTS) -> "PixelPCA":
        pixels = _pixels(check_frames(real, "real frames"))                        # (N, D)
        mean = pixels.mean(axis=0)
        _, _, vt = np.linalg.svd(pixels - mean, full_matrices=False)                # vt (min(N, D), D)
        return cls(mean=mean, axes=np.ascontiguousarray(vt[:components].T))

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, C + 1) float32 features: the projection, then the residual norm."""
        centred = _pixels(check_frames(frames, "frames")) - self.mean                # (T, D)
        projected = centred @ self.axes                                              # (T, C)
        residual = np.linalg.norm(centred - projected @ self.axes.T, axis=1)         # (T,)
        return np.concatenate([projected, residual[:, None]], axis=1)


def knn_precision_recall(generated: np.ndarray, real: np.ndarray, k: int = NEIGHBOURS,
                         features: PixelPCA | None = None) -> dict:
    """{"precision", "recall"} of generated frames against real ones (both (T, H, W, 3) uint8).

    `features` defaults to a PixelPCA fitted on `real`; pass one to compare several models in the
    same space."""
    generated = check_frames(generated, "generated frames")
    real = check_frames(real, "real frames")
    if generated.shape[1:] != real.shape[1:]:
        raise DataError(f"generated and real frames must have one size, got {generated.shape[1:3]} and {real.shape[1:3]}")
    if not 1 <= k < min(len(generated), len(real)):
        raise DataError(f"k-NN realism with k={k} needs more than k frames on each side, "
                        f"got {len(generated)} generated and {len(real)} real")
    space = features if features is not None else PixelPCA.fit(real)
    real_points, generated_points = space(real), space(generated)
    real_radius = _kth_neighbour_distance(real_points, k)
    generated_radius = _kth_neighbour_distance(generated_points, k)
    return {"precision": _inside_fraction(generated_points, real_points, real_radius),
            "recall": _inside_fraction(real_points, generated_points, generated_radius)}


def _pixels(frames: np.ndarray) -> np.ndarray:
    size = (FEATURE_SIDE, FEATURE_SIDE)
    small = np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in frames])
    return small.reshape(len(frames), -1).astype(np.float32) / 255.0             # (T, 16*16*3)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, clipped at 0 against rounding."""
    d = np.einsum("id,id->i", a, a)[:, None] - 2.0 * a @ b.T + np.einsum("jd,jd->j", b, b)[None, :]
    return np.maximum(d, 0.0)


def _kth_neighbour_distance(points: np.ndarray, k: int) -> np.ndarray:
    """(N,) squared distance from each point to its k-th nearest other point of the same set."""
    radius = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), DISTANCE_CHUNK):
        block = _squared_distances(points[start:start + DISTANCE_CHUNK], points)      # (n, N)
        # index k, not k-1: the nearest point of each row is the point itself, at distance 0
        radius[start:start + len(block)] = np.partition(block, k, axis=1)[:, k]
    return radius


def _inside_fraction(queries: np.ndarray, centres: np.ndarray, radius: np.ndarray) -> float:
    """Fraction of queries within the ball of at least one centre (ball radii squared)."""
    inside = 0
    for start in range(0, len(queries), DISTANCE_CHUNK):
        block = _squared_distances(queries[start:start + DISTANCE_CHUNK], centres)    # (n, M)
        inside += int((block <= radius[None, :]).any(axis=1).sum())
    return inside / len(queries)
