"""Tests of the metrics that see blur, realism and collapse (sharpness, nearest-real-view realism,
k-NN precision/recall, object persistence): each on real frames against themselves (perfect), on
blurred frames, on a frozen or constant clip, and with a small object erased."""

import time

import cv2
import numpy as np
import pytest

from vidgen_rt.data.record import play_episode
from vidgen_rt.errors import ConfigError, DataError
from vidgen_rt.metrics.nearest_view import ViewBank, close_up_rate, distinct_cells
from vidgen_rt.metrics.persistence import background, object_counts, object_persistence
from vidgen_rt.metrics.realism import PixelPCA, knn_precision_recall
from vidgen_rt.metrics.sharpness import sharpness, sharpness_by_band, sharpness_by_horizon
from vidgen_rt.worlds import HELD_OUT_SEED, MazeBatch

LEVEL = "maze:level=1,cells=3"


def maze_frames(seed, frames=120, size=32, world=LEVEL):
    return play_episode(world, "explore", seed, frames, size, size)["frames"]


def blurred(frames, sigma):
    return np.stack([cv2.GaussianBlur(frame, (0, 0), sigma) for frame in frames])


@pytest.fixture(scope="module")
def real():
    return maze_frames(HELD_OUT_SEED)


# sharpness --------------------------------------------------------------------------------------

def test_sharpness_is_one_on_real_frames_and_falls_with_blur(real):
    assert sharpness(real, real) == pytest.approx(1.0)
    assert sharpness(blurred(real, 1.0), real) < 0.5
    assert sharpness(blurred(real, 2.0), real) < sharpness(blurred(real, 1.0), real)
    noisy = np.clip(real + np.random.default_rng(0).normal(0, 20, real.shape), 0, 255).astype(np.uint8)
    assert sharpness(noisy, real) > 1.2   # noise is energy too: above 1 is not "sharper", it is wrong


def test_sharpness_of_constant_and_frozen_clips(real):
    constant = np.full_like(real, 128)
    assert sharpness(constant, real) == 0.0
    assert np.isnan(sharpness(real, constant))          # nothing to be as sharp as
    frozen = np.repeat(real[:1], len(real), axis=0)     # detail kept, motion lost: sharpness cannot tell
    assert 0.3 < sharpness(frozen, real) < 3.0


def test_sharpness_curves_by_horizon_and_band(real):
    rollouts = np.stack([real[:40], real[40:80]])                        # (R=2, T=40, H, W, 3)
    melting = rollouts.copy()
    melting[:, 20:] = blurred(rollouts[:, 20:].reshape(-1, 32, 32, 3), 1.5).reshape(2, 20, 32, 32, 3)
    curve = sharpness_by_horizon(melting, rollouts)
    assert curve.shape == (40,)
    assert np.allclose(curve[:20], 1.0) and (curve[20:] < 0.5).all()
    bands = sharpness_by_band(melting, rollouts, bands=((1, 16), (21, 40), (50, 60)))
    assert bands["1-16"] == pytest.approx(1.0) and bands["21-40"] < 0.5 and "50-60" not in bands
    with pytest.raises(DataError, match=r"\(R, T, H, W, 3\)"):
        sharpness_by_horizon(melting[0], rollouts[0])
    with pytest.raises(DataError, match="uint8"):
        sharpness(real.astype(np.float32), real)


# nearest-real-view realism ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def bank():
    start = time.perf_counter()
    built = ViewBank(LEVEL, height=32, width=32)
    print(f"\nview bank of {LEVEL} at 32x32: {len(built)} views in {time.perf_counter() - start:.1f} s")
    return built


def test_bank_views_match_themselves_exactly(bank):
    pick = np.random.default_rng(0).choice(len(bank), 40, replace=False)
    maze = MazeBatch([HELD_OUT_SEED], 32, 32, cells=3, level=1)
    views = maze.render_poses(bank.positions[pick], bank.headings[pick])
    match = bank.match(views)
    assert (match.psnr == 100.0).all()
    # a flat wall close up looks the same from many poses (at 32x32 about a third of random bank views
    # have an identical twin elsewhere): the PSNR is exact, the pose only where the view is unique
    exact = (np.abs(match.position - bank.positions[pick]).max(axis=1) < 1e-9) & (match.heading == bank.headings[pick])
    assert exact.mean() >= 0.5


def test_real_frames_score_high_and_blurred_ones_lower(bank, real):
    start = time.perf_counter()
    match = bank.match(real)
    print(f"\nmatched {len(real)} frames in {time.perf_counter() - start:.2f} s")
    blurry = bank.match(blurred(real, 1.0))
    constant = bank.match(np.full_like(real, 128))
    assert np.median(match.psnr) > 30.0
    assert np.median(blurry.psnr) < np.median(match.psnr) - 3.0
    assert np.median(constant.psnr) < np.median(blurry.psnr)


def test_pose_figures_of_a_walk_and_of_a_frozen_clip(bank, real):
    walk = bank.match(real)
    frozen = bank.match(np.repeat(real[5:6], len(real), axis=0))
    assert distinct_cells(walk) >= 4 and distinct_cells(frozen) == 1
    assert 0.0 <= close_up_rate(walk) < 0.5
    wall = bank.match(np.repeat(real[np.argmin(walk.centre_depth)][None], 3, axis=0))
    assert close_up_rate(wall) == (1.0 if walk.centre_depth.min() < 0.75 else 0.0)


def test_view_bank_refuses_bad_requests(bank, real):
    with pytest.raises(ConfigError, match="maze360"):
        ViewBank("maze360")
    with pytest.raises(ConfigError, match="spacing"):
        ViewBank(LEVEL, spacing=0.0)
    with pytest.raises(ConfigError, match="32x32"):
        bank.match(maze_frames(HELD_OUT_SEED, frames=2, size=64))


# k-NN precision and recall ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference():
    return np.concatenate([maze_frames(seed, 150) for seed in range(4)])


def test_knn_real_against_held_out_real_is_high_and_noise_low(reference):
    held_out = np.concatenate([maze_frames(HELD_OUT_SEED + seed, 150) for seed in range(4)])
    same = knn_precision_recall(held_out, reference)
    assert same["precision"] > 0.7 and same["recall"] > 0.6
    assert knn_precision_recall(reference, reference) == {"precision": 1.0, "recall": 1.0}
    noise = np.random.default_rng(0).integers(0, 256, held_out.shape, dtype=np.uint8)
    assert knn_precision_recall(noise, reference) == {"precision": 0.0, "recall": 0.0}


def test_knn_recall_sees_a_frozen_or_blurred_rollout(reference):
    frozen = np.repeat(reference[:1], 200, axis=0)
    assert knn_precision_recall(frozen, reference)["recall"] < 0.05
    same = knn_precision_recall(reference[::2], reference)
    assert knn_precision_recall(blurred(reference[::2], 2.0), reference)["recall"] < same["recall"] - 0.2
    space = PixelPCA.fit(reference, components=8)
    assert space(reference[:5]).shape == (5, 9)   # 8 components and the residual norm
    with pytest.raises(DataError, match="more than k"):
        knn_precision_recall(reference[:5], reference, k=10)


# object persistence -----------------------------------------------------------------------------

def ball_clip(frames=100, size=32, erase_from=None):
    """A grey field with a fixed dark bar and a white 2x2 ball bouncing around; the ball is gone
    from frame `erase_from` on."""
    clip = np.full((frames, size, size, 3), 90, np.uint8)
    clip[:, 4:20, 2:4] = 20
    x, y, vx, vy = 10.0, 5.0, 1.3, 0.9
    for t in range(frames):
        if erase_from is None or t < erase_from:
            clip[t, int(y):int(y) + 2, int(x):int(x) + 2] = 250
        x, y = x + vx, y + vy
        vx, vy = (-vx if not 6 <= x <= size - 3 else vx), (-vy if not 1 <= y <= size - 3 else vy)
    return clip


def test_persistence_of_a_synthetic_ball():
    real = ball_clip()
    assert object_persistence(real, real)["score"] == 1.0
    assert object_persistence(ball_clip(erase_from=50), real)["score"] == pytest.approx(0.5, abs=0.03)
    assert object_persistence(np.full_like(real, 90), real)["score"] == 0.0
    faint = blurred(real, 2.0)                 # the MSE model's smudge: too faint to count
    assert object_persistence(faint, real)["score"] < 0.2
    assert np.isnan(object_persistence(real, np.full_like(real, 90))["score"])   # nothing to persist


def test_persistence_on_real_pong_frames():
    real = play_episode("gym:ALE/Pong-v5", "sticky", HELD_OUT_SEED, 240, 64, 64)["frames"][1:]
    result = object_persistence(real, real)
    assert result["score"] == 1.0 and result["objects"] >= 3   # two paddles and the ball at least
    # erase the ball: the 1-3 pixel blobs below the score line (paddles and digits are larger)
    static = background(real)
    erased = real.copy()
    mask = (np.abs(real.astype(np.int16) - static).max(axis=-1) > 40).astype(np.uint8)
    for t, frame_mask in enumerate(mask):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(frame_mask, connectivity=8)
        for blob in range(1, count):
            if stats[blob, cv2.CC_STAT_AREA] <= 3 and stats[blob, cv2.CC_STAT_TOP] >= 12:
                erased[t][labels == blob] = static[labels == blob]
    erased_result = object_persistence(erased, real)
    assert erased_result["score"] < 0.75 and erased_result["ratio"][0] == 1.0   # the ball goes, paddles stay
    assert (object_counts(erased, static) <= object_counts(real, static)).all()
