"""`vidgen record gym:ENV_ID` end to end: Atari (ale-py), classic control, MiniGrid and Crafter
recorded through the command line into episode stores, checked against the environments themselves;
seeded determinism, early episode ends, the hold policies, and one-line errors for bad sources."""

import os

import gymnasium
import numpy as np
import pytest

from conftest import vidgen
from vidgen_rt.data.gym_source import HoldPolicy
from vidgen_rt.data.preprocess import resize_frame
from vidgen_rt.data.store import EpisodeStore


def record(tmp_path, name, source, *options, env=None, check=True):
    return vidgen("record", source, "-o", tmp_path / name, *options, env=env, check=check)


def test_atari_episodes_hold_resized_frames_and_the_games_action_names(tmp_path):
    result = record(tmp_path, "pong", "gym:ALE/Pong-v5", "--policy", "sticky", "--episodes", "2",
                    "--frames", "12", "--size", "48x32", "--seed", "5")
    assert "recorded 2 episodes" in result.stdout
    store = EpisodeStore.open(tmp_path / "pong")
    import ale_py
    gymnasium.register_envs(ale_py)
    meanings = gymnasium.make("ALE/Pong-v5").unwrapped.get_action_meanings()
    assert store.action_names == [m.lower() for m in meanings] and store.action_names[:2] == ["noop", "fire"]
    assert store.meta["source"] == "gym:ALE/Pong-v5" and store.meta["policy"] == "sticky"
    assert store.meta["seed"] == 5 and store.guide_names is None
    assert store.episode_lengths() == [12, 12]
    for e, episode in enumerate(store):
        assert episode.frames.shape == (12, 32, 48, 3) and episode.frames.dtype == np.uint8
        assert episode.frames.std() > 5  # a court with paddles, not a blank screen
        assert episode.actions.dtype == np.int64 and set(episode.actions) <= set(range(len(meanings)))
        assert episode.info == {"env_seed": 5 + e, "end": "frames"}


def test_the_same_seed_records_the_same_episodes(tmp_path):
    options = ("--policy", "random", "--episodes", "2", "--frames", "10", "--size", "32")
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        record(tmp_path, name, "gym:ALE/Breakout-v5", *options, "--seed", seed)
    a, b, c = (EpisodeStore.open(tmp_path / name) for name in "abc")
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea.frames, eb.frames)
        np.testing.assert_array_equal(ea.actions, eb.actions)
    assert any(not np.array_equal(ea.actions, ec.actions) for ea, ec in zip(a, c))


def test_cartpole_episodes_end_when_the_pole_falls_and_show_its_rendering(tmp_path):
    record(tmp_path, "cartpole", "gym:CartPole-v1", "--policy", "random", "--episodes", "3",
           "--frames", "300", "--size", "64", "--seed", "0")
    store = EpisodeStore.open(tmp_path / "cartpole")
    assert store.action_names == ["action_0", "action_1"]
    lengths = store.episode_lengths()
    assert len(lengths) == 3 and all(2 <= n < 300 for n in lengths)  # random play drops the pole fast
    assert [episode.info["end"] for episode in store] == ["terminated"] * 3
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    np.testing.assert_array_equal(store.episode(0).frames[0], resize_frame(env.render(), 64, 64))


def test_minigrid_actions_are_named_by_its_enum(tmp_path):
    record(tmp_path, "grid", "gym:MiniGrid-Empty-8x8-v0", "--policy", "explore", "--episodes", "1",
           "--frames", "8", "--size", "32")
    store = EpisodeStore.open(tmp_path / "grid")
    assert store.action_names == ["left", "right", "forward", "pickup", "drop", "toggle", "done"]
    assert store.episode(0).frames.shape == (8, 32, 32, 3) and store.meta["policy"] == "explore"


def test_crafter_records_through_its_adapter(tmp_path):
    record(tmp_path, "crafter", "gym:crafter", "--episodes", "1", "--frames", "6", "--size", "32",
           "--flow-guide")
    store = EpisodeStore.open(tmp_path / "crafter")
    import crafter
    assert store.action_names == list(crafter.constants.actions)
    episode = store.episode(0)
    assert episode.frames.shape == (6, 32, 32, 3) and episode.guide.shape == (6, 2, 32, 32)


def test_flow_guide_is_stored_with_its_names_and_range(tmp_path):
    record(tmp_path, "flow", "gym:ALE/Breakout-v5", "--episodes", "1", "--frames", "16", "--size", "32",
           "--flow-guide")
    store = EpisodeStore.open(tmp_path / "flow")
    guide = store.episode(0).guide
    assert store.guide_names == ["flow_x", "flow_y"] and store.meta["flow_scale_pixels"] == 8.0
    assert guide.shape == (16, 2, 32, 32) and guide.dtype == np.float32
    assert not guide[0].any() and np.abs(guide).max() <= 1.0


@pytest.mark.parametrize("name, hold", [("random", 0.0), ("sticky", 0.75), ("explore", 0.9)])
def test_hold_policies_repeat_the_previous_action_at_their_rate(name, hold):
    policy = HoldPolicy(num_actions=4, hold=hold, seed=0)
    actions = np.array([policy.act() for _ in range(4000)])
    expected = hold + (1 - hold) / 4  # a redraw picks the same action again a quarter of the time
    assert abs(np.mean(actions[1:] == actions[:-1]) - expected) < 0.03
    assert set(actions) == {0, 1, 2, 3}


NUMBERS_ONLY_ENV = '''
import gymnasium
import numpy as np


class NumbersOnly(gymnasium.Env):
    metadata = {"render_modes": []}
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        return np.zeros(4, np.float32), {}

    def step(self, action):
        return np.zeros(4, np.float32), 0.0, False, False, {}


gymnasium.register("NumbersOnly-v0", entry_point=NumbersOnly)
'''


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_bad_sources_fail_with_one_line_and_write_nothing(tmp_path):
    message = one_line_error(record(tmp_path, "s", "gym:ALE/Pongg-v5", check=False))
    assert "unknown environment id" in message and "ALE/Pong-v5" in message
    message = one_line_error(record(tmp_path, "s", "gym:Pendulum-v1", check=False))
    assert "Pendulum-v1" in message and "not discrete" in message
    (tmp_path / "numbers_env.py").write_text(NUMBERS_ONLY_ENV)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    message = one_line_error(record(tmp_path, "s", "gym:numbers_env:NumbersOnly-v0", env=env, check=False))
    assert "no image output" in message and "rgb_array" in message
    message = one_line_error(record(tmp_path, "s", "gym:CartPole-v1", "--policy", "teleport", check=False))
    assert "teleport" in message and "sticky" in message
    message = one_line_error(record(tmp_path, "s", "gym:CartPole-v1", "--guides", check=False))
    assert "--flow-guide" in message
    message = one_line_error(vidgen("record", "maze", "--flow-guide", "-o", tmp_path / "s", check=False))
    assert "gym:ENV_ID" in message
    assert not (tmp_path / "s").exists()


def test_missing_gymnasium_names_the_extra_to_install(tmp_path):
    (tmp_path / "gymnasium").mkdir()
    (tmp_path / "gymnasium" / "__init__.py").write_text("raise ImportError('simulated: not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    message = one_line_error(record(tmp_path, "s", "gym:CartPole-v1", env=env, check=False))
    assert "needs gymnasium" in message and ".[envs]" in message
