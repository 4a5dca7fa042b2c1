"""The quality report: flicker on known cases, the new eval keys with sane values, and the --plot,
--html and --md outputs of `vidgen eval` on a briefly trained tiny world."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from conftest import vidgen
from vidgen_rt.data.record import play_episode
from vidgen_rt.errors import DataError
from vidgen_rt.metrics.flicker import flicker
from vidgen_rt.worlds import ACTIONS, HELD_OUT_SEED


@pytest.fixture(scope="module")
def moving_clip():
    """A real maze walk, (T, H, W, 3) uint8, whose view changes every frame."""
    return play_episode("maze", "explore", HELD_OUT_SEED, 24, 32, 32)["frames"]


def test_flicker_of_real_frames_against_themselves_is_zero(moving_clip):
    result = flicker(moving_clip, moving_clip)
    assert result["generated"] == result["real"] > 0  # flow never explains a maze walk perfectly
    assert result["excess"] == 0.0
    batch = flicker(np.stack([moving_clip, moving_clip]), np.stack([moving_clip, moving_clip]))
    assert batch["real"] == pytest.approx(result["real"]) and batch["excess"] == 0.0


def test_a_frozen_clip_flickers_against_moving_real_frames(moving_clip):
    frozen = np.repeat(moving_clip[:1], len(moving_clip), axis=0)
    result = flicker(frozen, moving_clip)
    assert result["excess"] > 1.0 and result["generated"] > result["real"]
    shuffled = moving_clip[np.random.default_rng(0).permutation(len(moving_clip))]
    assert flicker(shuffled, moving_clip)["excess"] > result["excess"]  # popping is worse than freezing


def test_flicker_rejects_clips_of_different_shapes(moving_clip):
    with pytest.raises(DataError, match="same shape"):
        flicker(moving_clip[:-1], moving_clip)


def test_eval_writes_the_quality_report(tiny_run, tmp_path):
    out, plot = tmp_path / "eval.json", tmp_path / "eval.png"
    html, md = tmp_path / "report" / "eval.html", tmp_path / "report-md" / "eval.md"
    vidgen("eval", tiny_run, "--episodes", "2", "--stability-frames", "100", "--stability-rollouts", "2",
           "--json", out, "--plot", plot, "--html", html, "--md", md, "--quiet")
    metrics = json.loads(out.read_text())
    for key in ("tf_psnr", "tf_psnr_by_action", "tf_ssim", "ar_psnr", "ar_ssim", "ar_psnr_curve", "repeat_last_frame_psnr",
                "repeat_last_frame_curve", "tokenizer_psnr", "action_faithfulness", "stability",
                "train_minutes", "params", "gflops_per_frame", "ar_ssim_curve", "flicker", "sharpness",
                "realism", "object_persistence", "temperature_0"):
        assert key in metrics, key
    # `maze` draws a new maze per seed: no bank of views; built-in worlds measure persistence on request.
    assert "fixed maze level" in metrics["realism"]["nearest_view"]["skipped"]
    assert "--object-persistence" in metrics["object_persistence"]["skipped"]
    assert set(metrics["sharpness"]["bands"]) == {"1-16", "17-64", "65-300"}   # the last cut to 100 frames
    by_action = metrics["tf_psnr_by_action"]
    assert set(by_action) <= set(ACTIONS) and sum(entry["steps"] for entry in by_action.values()) == 2 * (6 + 64 - 1)
    steps = np.array([entry["steps"] for entry in by_action.values()])
    scores = np.array([entry["psnr"] for entry in by_action.values()])
    assert np.average(scores, weights=steps) == pytest.approx(metrics["tf_psnr"], abs=2e-3)
    curve = metrics["ar_ssim_curve"]
    assert len(curve) == len(metrics["ar_psnr_curve"]) == 64 and all(-1 <= v <= 1 for v in curve)
    assert curve[0] == metrics["ar_ssim"]["1"] and curve[63] == metrics["ar_ssim"]["64"]
    flick = metrics["flicker"]
    assert flick["generated"] >= 0 and flick["real"] > 0
    assert flick["excess"] == pytest.approx(flick["generated"] - flick["real"], abs=2e-3)
    assert Image.open(plot).size[0] > 100
    stability = metrics["stability"]
    low, high = stability["real_frame_mean_range"]
    assert 0 <= low <= high <= 255 and isinstance(stability["within_real_range"], bool)
    late_low, late_high = stability["late_frame_mean_range"]
    assert stability["within_real_range"] == (low <= late_low <= late_high <= high)
    assert isinstance(stability["frozen"], bool) and stability["frames"] == 100

    # Two rollouts from consecutive seeds after the held-out ones, judged together: the verdicts
    # need both, the pass count and the late span are theirs combined.
    first, last = metrics["held_out_seeds"]
    rollouts = stability["per_rollout"]
    assert stability["rollouts"] == 2 and [r["seed"] for r in rollouts] == [last + 1, last + 2]
    for rollout in rollouts:
        r_low, r_high = rollout["late_frame_mean_range"]
        assert rollout["within_real_range"] == (low <= r_low <= r_high <= high)
    assert stability["within_real_range"] == all(r["within_real_range"] for r in rollouts)
    assert stability["rollouts_within_real_range"] == sum(r["within_real_range"] for r in rollouts)
    assert stability["frozen"] == any(r["frozen"] for r in rollouts)
    assert [late_low, late_high] == [min(r["late_frame_mean_range"][0] for r in rollouts),
                                     max(r["late_frame_mean_range"][1] for r in rollouts)]
    assert stability["nan_count"] == sum(r["nan_count"] for r in rollouts)
    # The reference span is every real frame the evaluation saw: the held-out clips (explore player,
    # window 6 + 64 frames) and the real game played with each rollout's random actions.
    seen = [play_episode("maze", "explore", seed, 6 + 64, 32, 32)["frames"] for seed in range(first, last + 1)]
    seen += [play_episode("maze", "random", r["seed"], 6 + 100, 32, 32)["frames"] for r in rollouts]
    means = np.concatenate([frames.mean(axis=(1, 2, 3)) for frames in seen])
    assert [low, high] == [round(float(means.min()), 3), round(float(means.max()), 3)]

    for page in (html, md):
        text = page.read_text()
        for name in ("tf_psnr", "ar_psnr.64", "ar_ssim.16", "flicker.excess", "stability.nan_count",
                     "gflops_per_frame"):
            assert name in text, f"{page.name} lacks {name}"
        images = re.findall(r'src="([^"]+)"', text) if page.suffix == ".html" else re.findall(r"\]\(([^)]+)\)", text)
        assert len(images) == 2, images   # no long-rollout strip: 100 frames do not reach horizon 256
        for image in images:
            assert Image.open(page.parent / image).size[0] > 100
