"""The blur, realism and collapse figures of `vidgen eval` (metrics/quality.py): on real frames
against themselves and blurred, the long-rollout sampling and strips, and the command's JSON and
report on the tiny checkpoint evaluated in a fixed maze level (so the nearest-real-view bank runs)."""

import json
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import vidgen
from vidgen_rt.data.record import play_episode
from vidgen_rt.metrics.persistence import object_persistence
from vidgen_rt.metrics.quality import (LONG_SAMPLED_FRAMES, long_kept_horizons, long_strips,
                                       quality_figures)
from vidgen_rt.metrics.sharpness import sharpness
from test_quality_metrics import ball_clip
from vidgen_rt.worlds import HELD_OUT_SEED

LEVEL = "maze:level=1,cells=6"
CONTEXT = 6


@pytest.fixture(scope="module")
def episodes():
    """Two real maze walks of context + 64 frames, (2, 70, 32, 32, 3) uint8."""
    return np.stack([play_episode("maze", "explore", HELD_OUT_SEED + e, CONTEXT + 64, 32, 32)["frames"]
                     for e in range(2)])


def _run(frames: np.ndarray, real: np.ndarray | None = None, seed: int = 0) -> dict:
    """A long rollout as evaluate.py hands it over: every horizon kept, `frames` generated against
    `real` (default: themselves)."""
    return {"seed": seed, "horizons": np.arange(1, len(frames) + 1), "generated": frames,
            "real": frames if real is None else real}


def test_real_frames_against_themselves_score_as_real(episodes):
    walk = play_episode("maze", "random", HELD_OUT_SEED + 9, 120, 32, 32)["frames"]
    figures = quality_figures("maze", episodes, episodes, episodes[:, CONTEXT:], CONTEXT, [_run(walk)],
                              persistence=True)
    sharp = figures["sharpness"]
    assert sharp["tokenizer"] == 1.0 and set(sharp["bands"]) == {"1-16", "17-64", "65-300"}
    assert all(v == 1.0 for v in [*sharp["bands"].values(), *sharp["horizons"].values(), *sharp["curve"]])
    knn = figures["realism"]["knn"]
    assert knn["horizons_1_64"] == {"precision": 1.0, "recall": 1.0} == knn["long_rollouts"]
    assert "fixed maze level" in figures["realism"]["nearest_view"]["skipped"]   # a new maze per seed
    persistence = figures["object_persistence"]
    assert len(persistence["curve"]) == 64 and persistence["long_rollouts"] == {"score": object_persistence(walk, walk)["score"],
                                                                      "objects": object_persistence(walk, walk)["objects"]}


def test_persistence_reports_the_tokenizer_bound():
    # Two episodes of a bouncing ball (context + 64 frames); the "tokenizer" erases the ball from
    # the second half of every reconstruction, the rollouts keep it everywhere.
    real = np.stack([ball_clip(CONTEXT + 64), ball_clip(CONTEXT + 64)[::-1]])
    recon = np.stack([ball_clip(CONTEXT + 64, erase_from=CONTEXT + 32)] * 2)
    figures = quality_figures("maze", real, recon, real[:, CONTEXT:], CONTEXT, [_run(real[0])], persistence=True)
    persistence = figures["object_persistence"]
    assert persistence["worst_1_64"] == 1.0 and persistence["tokenizer"] == pytest.approx(0.5, abs=0.03)
    faithful = quality_figures("maze", real, real, real[:, CONTEXT:], CONTEXT, [_run(real[0])], persistence=True)
    assert faithful["object_persistence"]["tokenizer"] == 1.0


def test_persistence_compares_each_horizon_with_the_same_real_horizon():
    # The ball comes into play late (as Breakout's after FIRE): absent from the first 24 generated
    # horizons of the real episodes too. Real rollouts must score 1.0, not 0 where the ball is not
    # yet in play; rollouts that never draw it score 0 wherever the real frames show it.
    late_ball = ball_clip(CONTEXT + 64, erase_from=40)[::-1].copy()     # ball from frame 30 on
    real = np.stack([late_ball, late_ball])
    figures = quality_figures("maze", real, real, real[:, CONTEXT:], CONTEXT, [_run(real[0])], persistence=True)
    persistence = figures["object_persistence"]
    assert persistence["objects"] == 1 and persistence["worst_1_64"] == 1.0
    assert persistence["horizons"]["1"] is None and persistence["horizons"]["64"] == 1.0
    assert persistence["bands"] == {"1-16": None, "17-64": 1.0}
    no_ball = np.full_like(real[:, CONTEXT:], 90)
    no_ball[:, :, 4:20, 2:4] = 20
    gone = quality_figures("maze", real, real, no_ball, CONTEXT, [_run(real[0])], persistence=True)["object_persistence"]
    assert gone["worst_1_64"] == 0.0 and gone["bands"]["17-64"] == 0.0 and gone["horizons"]["1"] is None


def test_blurred_rollouts_score_below_one(episodes):
    blurred = np.stack([np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in e]) for e in episodes])
    figures = quality_figures("maze", episodes, blurred, blurred[:, CONTEXT:], CONTEXT,
                              [_run(blurred[0], episodes[0]), _run(blurred[1], episodes[1], 1)], persistence=False)
    sharp = figures["sharpness"]
    expected = sharpness(blurred.reshape(-1, 32, 32, 3), episodes.reshape(-1, 32, 32, 3))
    assert sharp["tokenizer"] == pytest.approx(expected, abs=1e-4) and sharp["tokenizer"] < 0.5
    assert set(sharp["bands"]) == {"1-16", "17-64", "65-300"}   # the last cut to the 70-frame runs
    assert all(v < 0.5 for v in [*sharp["bands"].values(), *sharp["horizons"].values()]), sharp
    assert "off by default" in figures["object_persistence"]["skipped"]


def test_long_rollouts_keep_about_a_thousand_frames_and_the_strip_horizons():
    kept = long_kept_horizons(10_000)
    assert kept[0] == 10 and kept[-1] == 10_000 and len(kept) == LONG_SAMPLED_FRAMES + 1   # + horizon 256
    assert {256, 1000, 10_000} <= set(kept.tolist())
    assert long_kept_horizons(300).tolist() == list(range(1, 301))
    frames = np.random.default_rng(0).integers(0, 255, (1000, 8, 8, 3), dtype=np.uint8)
    run = _run(frames)
    run["real"] = frames[:500]   # the real game ended at horizon 500: its frame at 1,000 is black
    strips = long_strips([run])
    assert strips["horizons"] == [256, 1000]
    assert np.array_equal(strips["generated"][0], frames[[255, 999]])
    assert np.array_equal(strips["real"][0, 0], frames[255]) and not strips["real"][0, 1].any()
    assert long_strips([_run(frames[:255])]) is None


@pytest.fixture(scope="module")
def level_eval(tiny_run, tmp_path_factory):
    """`vidgen eval` of the tiny checkpoint in a fixed level, long rollouts reaching horizon 256."""
    folder = tmp_path_factory.mktemp("eval-quality")
    vidgen("eval", tiny_run, "--world", LEVEL, "--episodes", "2", "--stability-frames", "256",
           "--object-persistence", "--json", folder / "eval.json", "--html", folder / "eval.html",
           "--md", folder / "eval.md", "--quiet")
    return folder, json.loads((folder / "eval.json").read_text())


@pytest.mark.timeout(900)   # trains a tiny world, then evaluates it
def test_eval_reports_sharpness_with_the_tokenizer_bound(level_eval, tiny_run):
    from vidgen_rt.train.checkpoint import load_checkpoint

    _, metrics = level_eval
    sharp = metrics["sharpness"]
    assert set(sharp["horizons"]) == {"1", "16", "64"} and set(sharp["bands"]) == {"1-16", "17-64", "65-300"}
    assert len(sharp["curve"]) == 64 and sharp["curve"][0] == sharp["horizons"]["1"]
    assert all(0 < v < 5 for v in [*sharp["bands"].values(), *sharp["curve"]])
    # The tokenizer bound, recomputed: the held-out frames encoded and decoded. The tiny tokenizer
    # trained 30 steps reconstructs a blur (measured 0.04), far below a real frame's detail.
    model, _, _ = load_checkpoint(tiny_run)
    first, last = metrics["held_out_seeds"]
    frames = np.concatenate([play_episode(LEVEL, "explore", s, CONTEXT + 64, 32, 32)["frames"]
                             for s in range(first, last + 1)])
    recon = model.decode_latents(model.encode_frames(frames))
    assert sharp["tokenizer"] == pytest.approx(sharpness(recon, frames), abs=1e-4)
    assert 0 < sharp["tokenizer"] < 0.5
    assert metrics["temperature_0"] == {"tf_psnr": metrics["tf_psnr"], "ar_psnr": metrics["ar_psnr"]}   # mse head


def test_eval_reports_realism_and_persistence(level_eval):
    _, metrics = level_eval
    view = metrics["realism"]["nearest_view"]
    assert view["bank_views"] > 10_000 and set(view["median_psnr"]) == {"1", "16", "64"}
    assert len(view["median_psnr_curve"]) == 64 and all(5 < v <= 100 for v in view["median_psnr_curve"])
    calibration = view["calibration"]
    # Real frames find their own view (most explorer poses lie on the bank's grid: the 100 dB cap);
    # the tiny tokenizer's blurred reconstructions of them score far lower.
    assert calibration["real_frames"] > calibration["tokenizer_reconstructions"] + 10
    poses = view["long_rollout_poses"]
    assert len(poses["per_rollout"]) == 1 and poses["distinct_cells"]["real_game"] >= 2
    assert 0 <= poses["close_up_rate"]["generated"] <= 1
    for side in ("horizons_1_64", "long_rollouts"):
        assert set(metrics["realism"]["knn"][side]) == {"precision", "recall"}
        assert all(0 <= v <= 1 for v in metrics["realism"]["knn"][side].values())
    persistence = metrics["object_persistence"]
    assert len(persistence["curve"]) == 64 and set(persistence["horizons"]) == {"1", "16", "64"}


def test_eval_report_renders_the_new_figures_and_the_long_strip(level_eval):
    folder, _ = level_eval
    for page in (folder / "eval.html", folder / "eval.md"):
        text = page.read_text()
        for name in ("sharpness.bands.1-16", "sharpness.horizons.64", "sharpness.tokenizer",
                     "realism.knn.horizons_1_64.recall", "realism.nearest_view.median_psnr.64",
                     "realism.nearest_view.calibration.tokenizer_reconstructions",
                     "realism.nearest_view.long_rollout_poses.distinct_cells.generated_over_real",
                     "object_persistence.worst_1_64", "temperature_0.ar_psnr.64", "horizons 256"):
            assert name in text, f"{page.name} lacks {name}"
        images = re.findall(r'src="([^"]+)"', text) if page.suffix == ".html" else re.findall(r"\]\(([^)]+)\)", text)
        assert images == [f"{page.stem}-curves.png", f"{page.stem}-samples.png",
                                                  f"{page.stem}-long-samples.png"]
        for image in images:
            assert Image.open(page.parent / image).size[0] > 100
    assert Image.open(folder / "eval-curves.png").size[1] > 600   # two rows: PSNR/SSIM, sharpness/realism


@pytest.mark.timeout(900)   # trains a tiny world, then evaluates it
def test_a_flow_head_reports_its_deterministic_output_beside_its_samples(tiny_flow_run):
    from vidgen_rt.metrics.evaluate import evaluate
    from vidgen_rt.train.checkpoint import load_checkpoint

    model, config, state = load_checkpoint(tiny_flow_run)
    metrics = evaluate(model, config, state, world="maze", episodes=1, stability_frames=100,
                       faithfulness_samples=10, quiet=True)
    deterministic = metrics["temperature_0"]
    assert set(deterministic["ar_psnr"]) == set(metrics["ar_psnr"]) == {"1", "4", "16", "64"}
    # Samples drawn at temperature 1 are not the head's temperature-0 output.
    assert deterministic["ar_psnr"] != metrics["ar_psnr"] and deterministic["tf_psnr"] != metrics["tf_psnr"]
    assert all(5 < v < 100 for v in [*deterministic["ar_psnr"].values(), deterministic["tf_psnr"]])


@pytest.mark.timeout(900)
def test_eval_samples_at_the_temperature_asked_for(tiny_flow_run, tmp_path):
    """--temperature reaches every sampled figure: at 0 they are the deterministic output's, and a bad
    value is refused with the stream option's message."""
    out = tmp_path / "t0.json"
    vidgen("eval", tiny_flow_run, "--episodes", "1", "--stability-frames", "100", "--temperature", "0",
           "--json", out, "--quiet")
    metrics = json.loads(out.read_text())
    assert metrics["temperature"] == 0.0
    assert metrics["tf_psnr"] == metrics["temperature_0"]["tf_psnr"]
    assert metrics["ar_psnr"] == metrics["temperature_0"]["ar_psnr"]
    bad = vidgen("eval", tiny_flow_run, "--temperature", "5", "--json", tmp_path / "bad.json", check=False)
    assert bad.returncode != 0 and "temperature 5" in bad.stderr and "0..4" in bad.stderr
