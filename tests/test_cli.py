"""The `vidgen` command line end to end on a tiny trained run: help texts, record, generate, eval,
and play (in a real window under Xvfb when xvfb-run is installed, as `make test` arranges)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import vidgen
from vidgen_rt.cli import COMMANDS
from vidgen_rt.data.store import EpisodeStore
from vidgen_rt.media import read_video
from vidgen_rt.worlds import HELD_OUT_SEED, make_world


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_explains_itself(command):
    result = vidgen(command, "--help")
    assert "usage: vidgen " + command in result.stdout
    assert "example" in result.stdout  # each help text ends with runnable examples


def test_top_level_help_lists_the_subcommands():
    result = vidgen("--help")
    for command in COMMANDS:
        assert command in result.stdout


def test_record_writes_a_store(tmp_path):
    result = vidgen("record", "maze", "--policy", "random", "--episodes", "2", "--frames", "12",
                    "--size", "48x32", "-o", tmp_path / "s", "--guides")
    store = EpisodeStore.open(tmp_path / "s")
    assert "recorded 2 episodes" in result.stdout
    assert store.episode_lengths() == [12, 12] and (store.height, store.width) == (32, 48)
    assert store.action_names[:2] == ["noop", "forward"] and store.guide_names == ["depth", "wall_id"]
    bad = vidgen("record", "maze", "--policy", "teleport", "-o", tmp_path / "t", check=False)
    assert bad.returncode == 2 and "teleport" in bad.stderr and not (tmp_path / "t").exists()


def test_record_a_fixed_level(tmp_path):
    vidgen("record", "maze", "--level", "3", "--cells", "5", "--episodes", "2", "--frames", "6", "--size", "16",
           "-o", tmp_path / "level")
    store = EpisodeStore.open(tmp_path / "level")
    assert store.meta["source"] == "world:maze:level=3,cells=5"
    first = make_world("maze:level=3,cells=5", seed=1, height=16, width=16).reset()
    np.testing.assert_array_equal(store.episode(1).frames[0], first)   # episode 1 starts where seed 1 does
    bad = vidgen("record", "gym:CartPole-v1", "--level", "3", "-o", tmp_path / "g", check=False)
    assert bad.returncode != 0 and "--level and --cells" in bad.stderr and not (tmp_path / "g").exists()


def test_generate_writes_the_requested_frames(tiny_run, tmp_path):
    out = tmp_path / "walk.mp4"
    result = vidgen("generate", tiny_run, "--actions", "forward*5,turn_left*3", "--frames", "12",
                    "--upscale", "2", "-o", out)
    assert "frames/s" in result.stdout
    video = read_video(out)
    assert video.shape == (12, 64, 64, 3)  # tiny frames are 32x32, upscaled 2x
    compare = tmp_path / "cmp.gif"
    vidgen("generate", tiny_run, "--policy", "random", "--frames", "6", "--compare", "--upscale", "1", "-o", compare)
    assert Image.open(compare).size == (32 * 2 + 2, 32)
    bad = vidgen("generate", tiny_run, "--actions", "fly*3", "-o", tmp_path / "x.mp4", check=False)
    assert bad.returncode == 2 and "unknown action 'fly'" in bad.stderr and not (tmp_path / "x.mp4").exists()


def test_eval_reports_the_documented_keys(tiny_run, tmp_path):
    out, plot = tmp_path / "eval.json", tmp_path / "eval.png"
    vidgen("eval", tiny_run, "--episodes", "2", "--stability-frames", "100", "--json", out, "--plot", plot,
           "--quiet")
    metrics = json.loads(out.read_text())
    for key in ("tf_psnr", "tf_ssim", "ar_psnr", "action_faithfulness", "stability", "train_minutes",
                "params", "gflops_per_frame"):
        assert key in metrics, key
    assert set(metrics["ar_psnr"]) == {"1", "4", "16", "64"}
    assert 5 < metrics["tf_psnr"] < 100 and 0 <= metrics["action_faithfulness"] <= 1
    assert metrics["stability"]["frames"] == 100 and metrics["stability"]["nan_count"] == 0
    assert metrics["params"] > 10_000 and metrics["gflops_per_frame"] > 0
    assert Image.open(plot).size[0] > 100
    bad = vidgen("eval", tiny_run, "--stability-rollouts", "0", "--json", tmp_path / "bad.json", check=False)
    assert bad.returncode == 2 and "--stability-rollouts >= 1" in bad.stderr and not (tmp_path / "bad.json").exists()


def test_eval_on_another_world_spec(tiny_run, tmp_path):
    out = tmp_path / "level.json"
    vidgen("eval", tiny_run, "--world", "maze:level=3,cells=5", "--episodes", "1", "--stability-frames", "100",
           "--json", out, "--quiet")
    metrics = json.loads(out.read_text())
    assert metrics["world"] == "maze:level=3,cells=5" and metrics["held_out_seeds"] == [HELD_OUT_SEED, HELD_OUT_SEED]
    assert 5 < metrics["tf_psnr"] < 100 and metrics["stability"]["frames"] == 100
    for spec, message in (("gym:CartPole-v1", "built-in world spec"), ("maze:level=q", "bad option")):
        bad = vidgen("eval", tiny_run, "--world", spec, "--json", tmp_path / "bad.json", check=False)
        assert bad.returncode == 2 and message in bad.stderr and not (tmp_path / "bad.json").exists()


def test_play_without_a_display_says_what_to_do(tiny_run):
    result = vidgen("play", tiny_run, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode == 2 and "no display" in result.stderr and "vidgen generate" in result.stderr


def test_play_opens_a_window_and_draws_generated_frames(tiny_run, tmp_path):
    import os
    import subprocess
    import sys
    assert shutil.which("xvfb-run"), "xvfb-run is missing: `make test` installs it as root (apt-get install xvfb)"
    shot = tmp_path / "shot.png"
    command = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", sys.executable, "-m", "vidgen_rt.cli", "play",
               str(tiny_run), "--frames", "20", "--scale", "4", "--screenshot", str(shot), "--no-vsync"]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # a run is exported once, then reused
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "played 20 frames" in result.stdout and "exporting" in result.stdout
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "exporting" not in again.stdout, again.stderr[-2000:]
    image = np.asarray(Image.open(shot))
    assert image.shape == (128, 128, 3)
    blocks = image.reshape(32, 4, 32, 4, 3)  # nearest-neighbour scaling: every 4x4 block is one colour
    assert (blocks == blocks[:, :1, :, :1]).all()
    assert image.std() > 5  # a picture, not a cleared window
