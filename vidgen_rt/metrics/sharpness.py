"""Sharpness: how much fine detail generated frames keep, relative to real frames at the same horizon.

PSNR rewards blur (the mean of the possible next frames is the MSE-optimal guess), so a model that
melts into smooth colour can score well on it. This metric looks only at the detail. The
high-frequency energy of a frame is the mean squared response of the 3x3 Laplacian
(4·x[i, j] − x[i−1, j] − x[i+1, j] − x[i, j−1] − x[i, j+1]) over its interior pixels (the one-pixel
border has no full neighbourhood and is left out), on each RGB channel in [0, 1], averaged over
channels. Blur removes exactly this energy; noise adds to it.

    sharpness(generated, real) = mean energy of the generated frames / mean energy of the real ones

1.0 = as sharp as real, below 1 = blurred, above 1 = noisier or busier than real. The ratio of
means (not the mean of per-frame ratios) keeps flat real frames, whose own energy is near zero,
from dominating. Compare frames at the same horizon, since detail depends on where the player is:
`sharpness_by_horizon` does so for rollouts (R, T, H, W, 3) against the real game played with the
same actions, and `sharpness_by_band` averages horizon bands such as 1–16 / 17–64 / 65–300.
"""

from __future__ import annotations

import numpy as np

from vidgen_rt.errors import DataError

DEFAULT_BANDS = ((1, 16), (17, 64), (65, 300))


def high_frequency_energy(frames: np.ndarray) -> np.ndarray:
    """Mean squared 3x3 Laplacian response of each frame of (T, H, W, 3) uint8: a (T,) float64 array."""
    x = check_frames(frames, "frames").astype(np.float64) / 255.0   # (T, H, W, 3); float32 leaves 1e-13 on flat frames
    centre = x[:, 1:-1, 1:-1]
    laplacian = 4.0 * centre - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]  # (T, H-2, W-2, 3)
    return np.mean(np.square(laplacian), axis=(1, 2, 3))


def sharpness(generated: np.ndarray, real: np.ndarray) -> float:
    """High-frequency energy of `generated` over that of `real` (both (T, H, W, 3) uint8; T may differ).

    Real frames without any detail (a flat clip) give NaN: no ratio says how sharp anything
    should be against them."""
    _same_frame_size(generated, real)
    real_energy = float(high_frequency_energy(real).mean())
    generated_energy = float(high_frequency_energy(generated).mean())
    return generated_energy / real_energy if real_energy > 0 else float("nan")


def sharpness_by_horizon(generated: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Rollouts (R, T, H, W, 3) against the real frames at the same steps (R, T, H, W, 3): a (T,)
    curve whose entry h-1 is the sharpness of the R generated frames at horizon h."""
    generated_energy, real_energy = _energy_grids(generated, real)   # (R, T) each
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = generated_energy.mean(axis=0) / real_energy.mean(axis=0)
    return np.where(real_energy.mean(axis=0) > 0, curve, np.nan)


def sharpness_by_band(generated: np.ndarray, real: np.ndarray, bands=DEFAULT_BANDS) -> dict:
    """Sharpness over horizon bands: {"1-16": ratio, ...}; horizons are 1-based, bands inclusive.

    A band is cut to the rollout's length and left out when it starts beyond it."""
    generated_energy, real_energy = _energy_grids(generated, real)   # (R, T) each
    length = generated_energy.shape[1]
    result = {}
    for first, last in bands:
        if not 1 <= first <= last:
            raise DataError(f"sharpness band ({first}, {last}): expected 1 <= first <= last")
        if first > length:
            continue
        real_mean = real_energy[:, first - 1:last].mean()
        ratio = generated_energy[:, first - 1:last].mean() / real_mean if real_mean > 0 else float("nan")
        result[f"{first}-{last}"] = float(ratio)
    return result


def _energy_grids(generated, real):
    generated, real = np.asarray(generated), np.asarray(real)
    if generated.ndim != 5 or generated.shape != real.shape:
        raise DataError(f"rollouts and real frames must both be (R, T, H, W, 3) of one shape, "
                        f"got {generated.shape} and {real.shape}")
    rollouts, steps = generated.shape[:2]
    flat = (rollouts * steps, *generated.shape[2:])   # (R*T, H, W, 3)
    return (high_frequency_energy(generated.reshape(flat)).reshape(rollouts, steps),
            high_frequency_energy(real.reshape(flat)).reshape(rollouts, steps))


def _same_frame_size(generated, real) -> None:
    a, b = check_frames(generated, "generated"), check_frames(real, "real")
    if a.shape[1:] != b.shape[1:]:
        raise DataError(f"generated and real frames must have one size, got {a.shape[1:3]} and {b.shape[1:3]}")


def check_frames(frames, name: str, min_side: int = 3) -> np.ndarray:
    """`frames` as a (T, H, W, 3) uint8 array with T >= 1, else a DataError naming `name`."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise DataError(f"{name}: expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(frames) == 0 or min(frames.shape[1:3]) < min_side:
        raise DataError(f"{name}: expected at least one frame of at least {min_side}x{min_side} pixels, "
                        f"got shape {frames.shape}")
    return frames
