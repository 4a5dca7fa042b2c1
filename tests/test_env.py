"""The learned world as a Gymnasium environment: spaces from the world, the checker passes, every
backend produces the frames of the runtime it wraps, bad actions are refused."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vidgen_rt
from vidgen_rt.env import WorldModelEnv
from vidgen_rt.errors import ConfigError
from vidgen_rt.export import export_bundle


@pytest.fixture(scope="module")
def env_bundle(tiny_run, tmp_path_factory):
    return export_bundle(tiny_run, tmp_path_factory.mktemp("env") / "tiny.vgrt", quiet=True)


@pytest.mark.parametrize("backend", ["native", "ort-python"])
def test_bundle_env_passes_the_gymnasium_checker(env_bundle, backend):
    env = WorldModelEnv(env_bundle, backend=backend, max_episode_steps=5)
    check_env(env, skip_render_check=False)
    assert env.action_space.n == 7 and env.observation_space.shape == (32, 32, 3)
    first, info = env.reset(seed=3)
    assert first.dtype == np.uint8 and info == {"step": 0}
    stepper = vidgen_rt.open_stepper(env_bundle, "ort-python")
    stepper.reset()
    for t, action in enumerate([1, 1, 3, 4, 0]):
        frame, reward, terminated, truncated, _ = env.step(action)
        assert np.array_equal(frame, stepper.step(action)[0, ..., :3])
        assert reward == 0.0 and not terminated and truncated == (t == 4)
    assert np.array_equal(env.render(), frame)


def test_checkpoint_env_runs_on_pytorch(tiny_run):
    env = WorldModelEnv(tiny_run, max_episode_steps=3)
    check_env(env)
    first, _ = env.reset(seed=5)
    again, _ = env.reset(seed=5)
    assert np.array_equal(first, again)
    frames = [env.step(2)[0] for _ in range(3)]
    assert all(f.shape == (32, 32, 3) for f in frames)


def test_env_refuses_bad_input(env_bundle, tiny_run):
    env = WorldModelEnv(env_bundle, backend="ort-python")
    with pytest.raises(ConfigError, match="before reset"):
        env.step(0)
    env.reset()
    with pytest.raises(ConfigError, match="out of range"):
        env.step(7)
    with pytest.raises(ConfigError, match="integer action id"):
        env.step(1.9)
    with pytest.raises(ConfigError, match="backend 'gpu'"):
        WorldModelEnv(env_bundle, backend="gpu")
    with pytest.raises(ConfigError, match="runs a bundle"):
        WorldModelEnv(tiny_run, backend="native")


def test_env_is_importable_from_the_package_top_level():
    assert vidgen_rt.WorldModelEnv is WorldModelEnv and "WorldModelEnv" in vidgen_rt.__all__


def test_env_is_registered_with_gymnasium(env_bundle):
    import gymnasium

    from vidgen_rt.env import ENV_ID

    env = gymnasium.make(ENV_ID, source=env_bundle, backend="ort-python", max_episode_steps=2)
    check_env(env.unwrapped)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (32, 32, 3)
