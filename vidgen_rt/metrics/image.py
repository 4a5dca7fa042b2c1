"""Full-reference image metrics, PSNR and SSIM, for comparing generated frames with true ones.

Both take two frames of the same shape, a single frame (H, W, C) or a batch (N, H, W, C), and
return a float for a single frame or an (N,) float64 array for a batch (one score per frame, so a
caller can average, plot against rollout step or pick the worst). Arrays may be uint8 or float.
The data range (the peak-to-peak value of a pixel) is 255 for uint8 and 1.0 for floats unless the
caller says otherwise; mixing a uint8 frame with a float one is refused, because no range fits both.

The arithmetic is scikit-image's (`skimage.metrics`); this module adds the batch axis, the checks
and the PSNR cap. SSIM follows Wang, Bovik, Sheikh and Simoncelli (IEEE TIP 2004) and their
reference MATLAB code: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
(not sample) local variances, and only the fully covered window positions (skimage filters the
whole frame, then crops the 5 border pixels whose window a padding mode invented). Each channel
gets its own SSIM map; the score is the mean over the map and then over channels.

Measured before replacing the hand-written numpy versions (256 maze frames of 64x64, this 2-core
machine): SSIM 857 ms hand-written against 617 ms skimage, equal within 9e-15; PSNR 38 ms against
14 ms, equal for every pair of different frames. So skimage is used, with no speed reason left to
keep a copy.
"""

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vidgen_rt.errors import DataError

PSNR_CAP_DB = 100.0  # PSNR of identical frames: finite, so results stay valid JSON
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11     # skimage derives it from the sigma: 2 * int(3.5 * 1.5 + 0.5) + 1
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def psnr(a: np.ndarray, b: np.ndarray, data_range: float | None = None):
    """Peak signal-to-noise ratio in dB, 10*log10(range^2 / MSE), capped at `PSNR_CAP_DB`.

    The MSE is taken over all pixels and channels of each frame. Identical frames (MSE 0) and any
    frame pair closer than the cap get exactly `PSNR_CAP_DB`.
    """
    a64, b64, peak, batched = _prepare(a, b, data_range)
    with np.errstate(divide="ignore"):  # identical frames: MSE 0 gives +inf, then the cap
        db = np.array([peak_signal_noise_ratio(x, y, data_range=peak) for x, y in zip(a64, b64)])  # (N,)
    db = np.minimum(db, PSNR_CAP_DB)
    return db if batched else float(db[0])


def ssim(a: np.ndarray, b: np.ndarray, data_range: float | None = None):
    """Structural similarity (Wang et al. 2004), 1.0 for identical frames; see the file's notes."""
    a64, b64, peak, batched = _prepare(a, b, data_range)
    height, width = a64.shape[1:3]
    if min(height, width) < SSIM_WINDOW:
        raise DataError(
            f"ssim needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels "
            f"(its Gaussian window), got {height}x{width}")
    score = np.array([
        structural_similarity(x, y, data_range=peak, channel_axis=-1, gaussian_weights=True,
                              sigma=SSIM_SIGMA, use_sample_covariance=False, K1=SSIM_K1, K2=SSIM_K2)
        for x, y in zip(a64, b64)])  # (N,)
    return score if batched else float(score[0])


def _prepare(a, b, data_range):
    """Check shapes and dtypes; return float64 (N, H, W, C) copies, the data range, batchedness."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise DataError(f"frames to compare must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim not in (3, 4):
        raise DataError(
            f"expected a frame (H, W, C) or a batch (N, H, W, C), got shape {a.shape}")
    for name, array in (("first", a), ("second", b)):
        if not (array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating)):
            raise DataError(f"the {name} frame must be uint8 or float, got dtype {array.dtype}")
    if data_range is None:
        data_range = _default_range(a.dtype, b.dtype)
    if not data_range > 0:
        raise DataError(f"data_range must be positive, got {data_range}")
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    if not (np.isfinite(a64).all() and np.isfinite(b64).all()):
        raise DataError("frames to compare contain NaN or infinite values")
    batched = a.ndim == 4
    if not batched:
        a64, b64 = a64[None], b64[None]  # (1, H, W, C)
    return a64, b64, float(data_range), batched


def _default_range(dtype_a, dtype_b) -> float:
    uint8 = (dtype_a == np.uint8, dtype_b == np.uint8)
    if all(uint8):
        return 255.0
    if not any(uint8):
        return 1.0
    raise DataError(
        f"cannot compare a {dtype_a} frame with a {dtype_b} frame without an explicit data_range")
