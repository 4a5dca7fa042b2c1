"""A world trained on a Gymnasium game is played again for evaluation and generation: the checkpoint
names `gym:ENV_ID` as its world, `vidgen eval` measures it on held-out reset seeds, and games that
end before the evaluation's length are skipped or refused with a clear error."""

import json
import os

import numpy as np
import pytest

from conftest import vidgen
from vidgen_rt.config import preset
from vidgen_rt.data.record import play_episode, require_context
from vidgen_rt.errors import ConfigError
from vidgen_rt.metrics.evaluate import held_out_episodes
from vidgen_rt.train.checkpoint import load_checkpoint
from vidgen_rt.worlds import HELD_OUT_SEED


@pytest.fixture(autouse=True)
def keep_environment():
    """Gymnasium's classic-control rendering sets SDL_VIDEODRIVER=dummy in the process that plays it;
    tests that later open real windows (the pygame host) must not inherit that."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pong")
    vidgen("record", "gym:ALE/Pong-v5", "-o", root / "data", "--episodes", "4", "--frames", "40", "--size", "32")
    vidgen("train", "--preset", "tiny", "--data", root / "data", "--out", root / "run", "--quiet",
           "--set", "model.n_actions=6", "--set", "train.tokenizer_steps=20", "--set", "train.dynamics_steps=20")
    return root / "run"


def test_the_checkpoint_names_its_game_as_world(pong_run):
    _, _, state = load_checkpoint(str(pong_run))
    assert state["world"] == "gym:ALE/Pong-v5"


def test_eval_plays_held_out_episodes_of_the_game(pong_run, tmp_path):
    out = tmp_path / "eval.json"
    vidgen("eval", pong_run, "--episodes", "2", "--stability-frames", "100", "--json", out, "--quiet")
    result = json.loads(out.read_text())
    assert result["world"] == "gym:ALE/Pong-v5" and result["held_out_seeds"][0] == HELD_OUT_SEED
    assert set(result["ar_psnr"]) == {"1", "4", "16", "64"} and 0 <= result["action_faithfulness"] <= 1
    assert result["stability"]["frames"] == 100 and result["stability"]["nan_count"] == 0


def test_generate_rolls_out_the_game_beside_the_truth(pong_run, tmp_path):
    out = tmp_path / "pong.mp4"
    result = vidgen("generate", pong_run, "--frames", "20", "-o", out)
    assert out.stat().st_size > 0, result.stdout


def test_a_game_played_again_matches_its_recording():
    again = play_episode("gym:ALE/Pong-v5", "sticky", 7, 30, 32, 32)
    once_more = play_episode("gym:ALE/Pong-v5", "sticky", 7, 30, 32, 32)
    assert again["frames"].shape == (30, 32, 32, 3) and again["actions"].shape == (30,)
    assert np.array_equal(again["frames"], once_more["frames"])


def test_games_that_end_too_soon_are_refused_by_name():
    # A random CartPole player drops the pole within a few dozen steps, never 70 frames.
    model = preset("tiny").model
    with pytest.raises(ConfigError, match="CartPole-v1: only .* lasted the 70 frames"):
        held_out_episodes("gym:CartPole-v1", 2, HELD_OUT_SEED, 70, model, False, True)


def test_an_episode_shorter_than_the_context_is_refused_by_name():
    played = play_episode("gym:CartPole-v1", "random", 3, 300, 32, 32)
    with pytest.raises(ConfigError, match=r"CartPole-v1: the episode of seed 3 ended after \d+ frames, before the 500"):
        require_context(played, 500, "gym:CartPole-v1", 3)
    require_context(played, len(played["frames"]), "gym:CartPole-v1", 3)  # exactly enough is fine


def test_short_games_keep_their_actions_for_the_rollout():
    played = play_episode("gym:CartPole-v1", "random", 3, 300, 32, 32)
    assert len(played["frames"]) < 300 and played["actions"].shape == (300,)
