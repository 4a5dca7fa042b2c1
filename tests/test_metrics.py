"""Tests of the frame metrics: PSNR and SSIM against hand calculations, optical flow on known
shifts, dominant-motion labels on synthetic shifts and zooms, and action faithfulness."""

import cv2
import numpy as np
import pytest

from vidgen_rt.errors import DataError
from vidgen_rt.metrics.image import PSNR_CAP_DB, SSIM_K1, psnr, ssim
from vidgen_rt.metrics.motion import (
    MotionSummary, action_faithfulness, dominant_motion, motion_agreement, optical_flow)


def texture(size=128, seed=0):
    """Smooth random RGB texture (Gaussian-blurred noise), uint8 (size, size, 3)."""
    noise = np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


BIG = texture()


def view(shift_x=0, shift_y=0):
    """64x64 window of BIG whose content appears moved by (shift_x, shift_y) against view()."""
    return BIG[32 - shift_y:96 - shift_y, 32 - shift_x:96 - shift_x]


def zoomed(crop):
    """The central crop x crop pixels of BIG's centre 64x64 region, resized to 64x64."""
    start = 64 - crop // 2
    region = BIG[start:start + crop, start:start + crop]
    interpolation = cv2.INTER_AREA if crop > 64 else cv2.INTER_LINEAR
    return cv2.resize(region, (64, 64), interpolation=interpolation)


def noisy(frame, sigma, seed):
    noise = np.random.default_rng(seed).normal(0.0, sigma, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


# PSNR -------------------------------------------------------------------------------------------

def test_psnr_of_identical_frames_is_the_cap():
    frame = texture(32)
    assert psnr(frame, frame) == PSNR_CAP_DB
    assert psnr(frame / 255.0, frame / 255.0) == PSNR_CAP_DB


def test_psnr_of_constant_offset_matches_formula():
    frame = np.random.default_rng(1).integers(10, 240, (16, 16, 3), dtype=np.uint8)
    assert psnr(frame, frame + 5) == pytest.approx(10 * np.log10(255.0 ** 2 / 25.0), abs=1e-12)
    as_float = frame / 255.0
    assert psnr(as_float, as_float + 0.1) == pytest.approx(20.0, abs=1e-9)


def test_psnr_batch_gives_one_score_per_frame():
    a = np.stack([texture(32, seed) for seed in range(3)])
    b = np.stack([noisy(frame, 4.0 * (i + 1), i) for i, frame in enumerate(a)])
    scores = psnr(a, b)
    assert scores.shape == (3,)
    assert np.allclose(scores, [psnr(x, y) for x, y in zip(a, b)])
    assert scores[0] > scores[1] > scores[2]


def test_psnr_refuses_mismatched_inputs():
    frame = texture(16)
    with pytest.raises(DataError, match="same shape"):
        psnr(frame, frame[:8])
    with pytest.raises(DataError, match="data_range"):
        psnr(frame, frame / 255.0)
    assert psnr(frame.astype(np.float32), frame, data_range=255) == PSNR_CAP_DB
    with pytest.raises(DataError, match="NaN"):
        psnr(np.full((4, 4, 3), np.nan), np.zeros((4, 4, 3)))


# SSIM -------------------------------------------------------------------------------------------

def test_ssim_of_identical_frames_is_one():
    frame = texture(32)
    assert ssim(frame, frame) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_frames_matches_luminance_term():
    # Flat frames have zero variance and covariance, so SSIM reduces to its luminance term.
    a = np.full((16, 16, 3), 100, np.uint8)
    b = np.full((16, 16, 3), 140, np.uint8)
    c1 = (SSIM_K1 * 255) ** 2
    expected = (2 * 100 * 140 + c1) / (100 ** 2 + 140 ** 2 + c1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def brute_force_ssim(a, b, peak):
    """SSIM by an explicit loop over every 11x11 window with a 2-D Gaussian weight matrix."""
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    weights = np.outer(taps, taps) / np.outer(taps, taps).sum()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    scores = []
    for channel in range(a.shape[2]):
        for top in range(a.shape[0] - 10):
            for left in range(a.shape[1] - 10):
                x = a[top:top + 11, left:left + 11, channel].astype(np.float64)
                y = b[top:top + 11, left:left + 11, channel].astype(np.float64)
                mx, my = (weights * x).sum(), (weights * y).sum()
                vx, vy = (weights * (x - mx) ** 2).sum(), (weights * (y - my) ** 2).sum()
                cov = (weights * (x - mx) * (y - my)).sum()
                scores.append((2 * mx * my + c1) * (2 * cov + c2)
                              / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(np.mean(scores))


def test_ssim_matches_brute_force_reference():
    a = texture(20, seed=3)
    b = noisy(a, 12.0, seed=4)
    assert ssim(a, b) == pytest.approx(brute_force_ssim(a, b, 255.0), abs=1e-10)


def test_noise_lowers_ssim_and_batch_matches_single():
    clean = texture(48)
    batch = np.stack([noisy(clean, sigma, seed) for seed, sigma in enumerate((2, 8, 32))])
    scores = ssim(np.stack([clean] * 3), batch)
    assert scores.shape == (3,)
    assert 1.0 > scores[0] > scores[1] > scores[2]
    assert np.allclose(scores, [ssim(clean, frame) for frame in batch])
    assert ssim(clean / 255.0, batch[1] / 255.0) == pytest.approx(scores[1], abs=1e-9)


def test_ssim_refuses_frames_smaller_than_its_window():
    with pytest.raises(DataError, match="11x11"):
        ssim(np.zeros((8, 32, 3), np.uint8), np.zeros((8, 32, 3), np.uint8))


# optical flow and dominant motion -------------------------------------------------------------

def test_flow_recovers_a_known_shift():
    flow = optical_flow(view(), view(shift_x=3))
    assert flow.shape == (64, 64, 2) and flow.dtype == np.float32
    interior = flow[16:48, 16:48]
    assert interior[..., 0].mean() == pytest.approx(3.0, abs=0.5)
    assert interior[..., 1].mean() == pytest.approx(0.0, abs=0.5)


def test_flow_recovers_a_large_shift():
    # A 10-degree turn moves a 64-pixel first-person view by about 10 pixels.
    flow = optical_flow(view(), view(shift_x=-10))
    assert flow[16:48, 16:48, 0].mean() == pytest.approx(-10.0, abs=0.5)


def test_flow_on_tiny_frames_is_in_their_own_pixels():
    # 32x32 frames are upscaled for Farnebäck; the flow must come back at 32x32 and in its pixels.
    flow = optical_flow(view()[::2, ::2], view(shift_x=4)[::2, ::2])
    assert flow.shape == (32, 32, 2)
    assert flow[8:24, 8:24, 0].mean() == pytest.approx(2.0, abs=0.3)


@pytest.mark.parametrize("shift, label", [
    ((3, 0), "right"), ((-3, 0), "left"), ((0, -2), "up"), ((0, 2), "down"), ((0, 0), "still"),
])
def test_translation_labels(shift, label):
    assert dominant_motion(view(), view(*shift)).label == label


def test_zoom_in_expands_and_zoom_out_contracts():
    forward = dominant_motion(view(), zoomed(56))
    backward = dominant_motion(view(), zoomed(72))
    assert forward.label == "expand" and forward.divergence > 0
    assert backward.label == "contract" and backward.divergence < 0
    # The zoom is about the centre, so the fitted translation stays small.
    assert abs(forward.dx) < 0.3 and abs(forward.dy) < 0.3


def test_noise_and_flicker_read_as_still():
    frame = view()
    assert dominant_motion(noisy(frame, 6.0, 1), noisy(frame, 6.0, 2)).label == "still"
    brighter = np.clip(frame * 1.2, 0, 255).astype(np.uint8)
    assert dominant_motion(frame, brighter).label == "still"


def test_dominant_motion_summary_fields():
    summary = dominant_motion(view(), view(shift_x=3))
    assert isinstance(summary, MotionSummary)
    assert summary.dx == pytest.approx(3.0, abs=0.3)
    assert summary.magnitude == pytest.approx(3.0, abs=0.3)
    float_summary = dominant_motion(view() / 255.0, view(shift_x=3) / 255.0)
    assert float_summary.label == "right"


def test_flow_refuses_bad_frames():
    with pytest.raises(DataError, match="same size"):
        optical_flow(view(), view()[:32])
    with pytest.raises(DataError, match="dtype"):
        optical_flow(view().astype(np.int32), view().astype(np.int32))


# agreement and faithfulness ---------------------------------------------------------------------

def test_motion_agreement_cases():
    prev = view()
    assert motion_agreement(prev, view(shift_x=3), view(shift_x=4))
    assert not motion_agreement(prev, view(shift_x=3), view(shift_x=-3))
    assert motion_agreement(prev, zoomed(56), zoomed(58))
    assert motion_agreement(prev, prev, noisy(prev, 3.0, 0))
    assert not motion_agreement(prev, prev, view(shift_x=3))
    # A model that ignores the action and repeats the previous frame disagrees with motion.
    assert not motion_agreement(prev, view(shift_x=3), prev)


def test_action_faithfulness_counts_every_triple():
    prev = view()
    true_next = [view(shift_x=3), zoomed(56), prev, view(shift_y=2)]
    generated = [view(shift_x=3), zoomed(56), prev, prev]
    assert action_faithfulness([prev] * 4, true_next, generated) == pytest.approx(0.75)
    assert action_faithfulness(np.stack([prev] * 2), np.stack(true_next[:2]),
                               np.stack(generated[:2])) == 1.0


def test_action_faithfulness_refuses_bad_batches():
    prev = view()
    with pytest.raises(DataError, match="as many"):
        action_faithfulness([prev, prev], [prev], [prev])
    with pytest.raises(DataError, match="at least one"):
        action_faithfulness([], [], [])
