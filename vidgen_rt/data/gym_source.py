"""Recording episodes from Gymnasium environments (Atari through ale-py, MiniGrid, classic control)
and Crafter into an episode store.

A source is named `gym:ENV_ID` on the command line (`gym:ALE/Pong-v5`, `gym:CartPole-v1`,
`gym:MiniGrid-Empty-8x8-v0`, `gym:crafter`). The frame is the observation when that is an image
(Atari) and otherwise the environment's `rgb_array` rendering (classic control, MiniGrid); frames
are resized to the store's size. Only discrete action spaces can be recorded; action names come from
the environment (ALE's action meanings, MiniGrid's `Actions` enum, Crafter's action list), lower-
cased to match the built-in worlds, else `action_0..n-1`.

Stored episode e starts from `env.reset(seed=seed + e)` with the policy seeded the same way, so a
seed reproduces a recording. An episode ends after `frames` frames or when the environment
terminates or truncates, whichever comes first; `info["end"]` says which ("frames", "terminated",
"truncated"). As for the built-in worlds, `actions[t]` follows `frames[t]`, so the last action of
an episode is chosen but never applied. The policies are uniform random actions, each held with a
fixed probability of repeating the previous one: `random` never holds, `sticky` repeats with 0.75
(ALE's sticky-action probability; about 4 steps per action), `explore` with 0.9 (about 10 steps,
long enough to cross a room or a screen).
"""

from __future__ import annotations

import difflib
import importlib
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vidgen_rt.data.flow import FLOW_GUIDE_NAMES, FLOW_SCALE_PIXELS, flow_guide
from vidgen_rt.data.preprocess import Preprocess
from vidgen_rt.data.record import check_request
from vidgen_rt.data.store import HELD_OUT_AUTO, EpisodeStore
from vidgen_rt.errors import ConfigError

PREFIX = "gym:"
HOLD_PROBABILITY = {"random": 0.0, "sticky": 0.75, "explore": 0.9}
INSTALL_HINT = "install the envs extra: pip install -e '.[envs]'"
# Modules that register environments when imported, and the id prefixes whose envs they provide.
PLUGINS = {"ale_py": ("ALE/",), "minigrid": ("MiniGrid-", "BabyAI-")}


class HoldPolicy:
    """Uniform random actions, each repeated with probability `hold` instead of redrawn."""

    def __init__(self, num_actions: int, hold: float, seed: int):
        self.num_actions = num_actions
        self.hold = hold
        self.rng = np.random.default_rng(seed)
        self.previous: int | None = None

    def act(self) -> int:
        if self.previous is None or self.rng.random() >= self.hold:
            self.previous = int(self.rng.integers(self.num_actions))
        return self.previous


class GymnasiumSource:
    """One Gymnasium environment seen as frames: reset(seed) -> frame, step(a) -> (frame, end)."""

    def __init__(self, env_id: str):
        gymnasium = _import_gymnasium(env_id)
        env = _make(gymnasium, env_id)
        self.action_names = _discrete_action_names(gymnasium, env, env_id)
        self.observation_is_image = _is_image_space(gymnasium, env.observation_space)
        if not self.observation_is_image:
            env = _remake_rendering(gymnasium, env, env_id)
        self.env = env
        self.env_id = env_id

    def reset(self, seed: int) -> np.ndarray:
        observation, _ = self.env.reset(seed=seed)
        return self._frame(observation)

    def step(self, action: int) -> tuple[np.ndarray, str | None]:
        observation, _, terminated, truncated, _ = self.env.step(action)
        end = "terminated" if terminated else "truncated" if truncated else None
        return self._frame(observation), end

    def close(self) -> None:
        self.env.close()

    def _frame(self, observation) -> np.ndarray:
        image = observation if self.observation_is_image else self.env.render()
        return _as_rgb(image, self.env_id)


class CrafterSource:
    """Crafter (danijar/crafter) behind the same interface; it predates Gymnasium's API."""

    def __init__(self, size: int):
        try:
            self.crafter = importlib.import_module("crafter")
        except ImportError:
            raise ConfigError(f"{PREFIX}crafter needs the crafter package; {INSTALL_HINT}") from None
        self.size = max(64, size)  # a 9x9-tile view: under 64 pixels a tile is too small for its sprite
        self.action_names = list(self.crafter.constants.actions)
        self.env = None

    def reset(self, seed: int) -> np.ndarray:
        # Crafter seeds each reset from (seed, episode count): a fresh Env makes `seed` decide alone.
        self.env = self.crafter.Env(size=(self.size, self.size), seed=seed)
        return self.env.reset()

    def step(self, action: int) -> tuple[np.ndarray, str | None]:
        frame, _, done, info = self.env.step(action)
        end = None if not done else "terminated" if info["discount"] == 0 else "truncated"
        return frame, end

    def close(self) -> None:
        self.env = None


def open_source(env_id: str, size: int):
    """The frame source for the part of `gym:ENV_ID` after the prefix."""
    if env_id.lower() == "crafter":
        return CrafterSource(size)
    return GymnasiumSource(env_id)


def play_gym_episode(source, policy: HoldPolicy, seed: int, frames: int, preprocess: Preprocess) -> dict:
    """Play one episode of at most `frames` frames; returns frames, actions and why it ended."""
    images = [preprocess.frame(source.reset(seed))]
    actions, end = [], None
    while True:
        actions.append(policy.act())  # actions[t] follows frames[t]; the last one is never applied
        if end or len(images) == frames:
            break
        frame, end = source.step(actions[-1])
        images.append(preprocess.frame(frame))
    return {"frames": np.stack(images), "actions": np.array(actions, np.int64), "end": end or "frames"}


def play_gym_world(env_id: str, policy: str, seed: int, frames: int, height: int, width: int,
                   guides: bool = False) -> dict:
    """One episode of a gym-trained world for evaluation, generation and context frames, in the
    shape `record.play_episode` gives: frames (T', H, W, 3) with T' <= `frames` (the game may end
    first) and `frames` actions (the policy keeps drawing after the end, which is all a rollout
    needs beyond its real context)."""
    if guides:
        raise ConfigError(f"{PREFIX}{env_id}: a flow-guided world takes its guide maps from real video; "
                          f"drive it with recorded guides instead of playing the environment")
    if policy not in HOLD_PROBABILITY:
        raise ConfigError(f"unknown policy {policy!r} for {PREFIX}{env_id}; expected one of {sorted(HOLD_PROBABILITY)}")
    source = open_source(env_id, max(height, width))
    try:
        agent = HoldPolicy(len(source.action_names), HOLD_PROBABILITY[policy], seed)
        episode = play_gym_episode(source, agent, seed, frames, Preprocess(height, width))
    finally:
        source.close()
    more = [agent.act() for _ in range(frames - len(episode["actions"]))]
    actions = np.concatenate([episode["actions"], np.array(more, np.int64)])
    return {"frames": episode["frames"], "actions": actions, "guide": None, "action_names": source.action_names}


def record_gym(env_id: str, out: Path, policy: str = "sticky", episodes: int = 10, frames: int = 256,
               height: int = 64, width: int = 64, seed: int = 0, flow: bool = False,
               overwrite: bool = False, quiet: bool = False, held_out: int | str = HELD_OUT_AUTO) -> EpisodeStore:
    """Record `episodes` episodes of the Gymnasium env `env_id` into a new store at `out`; the last
    `held_out` are held out (store.py)."""
    check_request(episodes, frames, height, width, len(FLOW_GUIDE_NAMES) if flow else 0)
    policies = _parse_policies(policy)
    preprocess = Preprocess(height, width)
    source = open_source(env_id, max(height, width))
    meta = {"source": PREFIX + env_id, "policy": policy, "seed": seed, "frames": frames,
            "flow_scale_pixels": FLOW_SCALE_PIXELS if flow else None}
    try:
        with EpisodeStore.create(out, height, width, action_names=source.action_names,
                                 guide_names=FLOW_GUIDE_NAMES if flow else None, meta=meta,
                                 overwrite=overwrite, held_out=held_out) as writer:
            for e in tqdm(range(episodes), desc=f"record {env_id}", unit="episode", disable=quiet):
                hold = HOLD_PROBABILITY[policies[e % len(policies)]]
                agent = HoldPolicy(len(source.action_names), hold, seed + e)
                episode = play_gym_episode(source, agent, seed + e, frames, preprocess)
                guide = flow_guide(episode["frames"]) if flow else None
                writer.add_episode(episode["frames"], episode["actions"], guide=guide,
                                   info={"env_seed": seed + e, "end": episode["end"]})
    finally:
        source.close()
    return EpisodeStore.open(out)


def _parse_policies(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in HOLD_PROBABILITY]
    if not names or unknown:
        raise ConfigError(f"--policy {text!r}: gym sources take {', '.join(HOLD_PROBABILITY)} "
                          "or a comma-separated list of them")
    return names


def _import_gymnasium(env_id: str):
    try:
        gymnasium = importlib.import_module("gymnasium")
    except ImportError:
        raise ConfigError(f"{PREFIX}{env_id} needs gymnasium; {INSTALL_HINT}") from None
    for module, prefixes in PLUGINS.items():
        try:
            gymnasium.register_envs(importlib.import_module(module))
        except ImportError:
            if env_id.startswith(prefixes):
                raise ConfigError(f"{PREFIX}{env_id} needs the {module} package; {INSTALL_HINT}") from None
    return gymnasium


def _make(gymnasium, env_id: str, **kwargs):
    try:
        return gymnasium.make(env_id, **kwargs)
    except (gymnasium.error.UnregisteredEnv, ModuleNotFoundError) as error:
        close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=3, cutoff=0.6)
        hint = (f"close ids: {', '.join(close)}" if close else "list the ids with: python -c "
                "'import gymnasium, ale_py, minigrid; gymnasium.pprint_registry()'")
        raise ConfigError(f"{PREFIX}{env_id}: unknown environment id "
                          f"({str(error).splitlines()[0]}); {hint}") from None
    except (gymnasium.error.Error, ImportError) as error:
        raise ConfigError(f"{PREFIX}{env_id}: cannot make this environment "
                          f"({str(error).splitlines()[0]}); {INSTALL_HINT}") from None


def _discrete_action_names(gymnasium, env, env_id: str) -> list[str]:
    space = env.action_space
    if not isinstance(space, gymnasium.spaces.Discrete):
        env.close()
        raise ConfigError(f"{PREFIX}{env_id}: action space {space} is not discrete; "
                          "vidgen records Discrete(n) action spaces only")
    count, base = int(space.n), env.unwrapped
    if int(space.start) != 0:
        env.close()
        raise ConfigError(f"{PREFIX}{env_id}: action space {space} starts at {space.start}; "
                          "vidgen records Discrete(n) spaces that start at 0")
    if hasattr(base, "get_action_meanings"):  # ALE
        names = list(base.get_action_meanings())
    elif hasattr(base, "actions") and hasattr(base.actions, "__members__"):  # MiniGrid's Actions enum
        names = [base.actions(i).name for i in range(count)]
    else:
        names = []
    names = [str(name).lower() for name in names]
    if len(names) != count or len(set(names)) != count or not all(names):
        names = [f"action_{i}" for i in range(count)]
    return names


def _is_image_space(gymnasium, space) -> bool:
    """A uint8 Box shaped (H, W), (H, W, 1) or (H, W, 3): an observation that is a picture."""
    return (isinstance(space, gymnasium.spaces.Box) and space.dtype == np.uint8
            and (len(space.shape) == 2 or len(space.shape) == 3 and space.shape[2] in (1, 3)))


def _remake_rendering(gymnasium, env, env_id: str):
    modes = env.metadata.get("render_modes") or []
    observation_space = env.observation_space
    env.close()
    if "rgb_array" not in modes:
        raise ConfigError(f"{PREFIX}{env_id}: no image output; its observation {observation_space} "
                          f"is not an image and its render modes {modes} lack 'rgb_array'")
    # Rendering into arrays needs no window; without this pygame's SDL probes for a display and
    # prints an error on headless machines.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    return _make(gymnasium, env_id, render_mode="rgb_array")


def _as_rgb(image, env_id: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8 and image.ndim == 2:
        image = image[..., None]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ConfigError(f"{PREFIX}{env_id}: expected (H, W, 3) uint8 frames from the environment, "
                          f"got {image.dtype} {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)  # (H, W, 1) -> (H, W, 3)
    return np.ascontiguousarray(image[..., :3])
