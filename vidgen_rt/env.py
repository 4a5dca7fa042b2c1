"""WorldModelEnv: a learned world behind the Gymnasium API, for agents, scripts and evaluation loops.

`WorldModelEnv(source)` takes a bundle (`NAME.vgrt`, run by the native runtime, or by the Python
reference driver with `backend="ort-python"`) or a checkpoint / shipped world name (run by PyTorch's
cached step); the stepper comes from `open_stepper`, as every consumer's does. Spaces come from the
world: `Discrete(len(action names))` and RGB uint8 observations of the frame size. `reset` seeds
the stream with the bundle's context frames (or, for a checkpoint of a built-in world, `window` real
frames of the maze with seed `seed`; for one trained on a store, its first held-out episode);
`step(action)` generates one frame. A learned world has no reward or terminal state of its own:
reward is 0.0 and episodes end only by truncation after `max_episode_steps` (None: never), as a video game's attract mode would.
"""

from __future__ import annotations

import numpy as np

from vidgen_rt.errors import ConfigError
from vidgen_rt.runtime.factory import is_bundle, open_stepper
from vidgen_rt.worlds import HELD_OUT_SEED

try:
    import gymnasium as gym
except ImportError:  # an optional extra: say how to get it instead of a bare traceback
    raise ConfigError("WorldModelEnv needs gymnasium: pip install 'vidgen_rt[envs]'") from None

BACKENDS = ("auto", "native", "ort-python", "torch")
ENV_ID = "vidgen_rt/WorldModel-v0"  # gymnasium.make(ENV_ID, source="maze.vgrt")


class WorldModelEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, source, backend: str = "auto", max_episode_steps: int | None = None,
                 render_mode: str | None = "rgb_array", threads: int | None = None):
        if backend not in BACKENDS:
            raise ConfigError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode {render_mode!r}: WorldModelEnv renders 'rgb_array' only")
        if backend == "auto":
            backend = "native" if is_bundle(source) else "torch"
        self._stepper = open_stepper(source, backend, intra_op_threads=threads)
        self._checkpoint = backend == "torch"
        if self._checkpoint and (self._stepper.info.cond_dim or self._stepper.info.guide_channels):
            raise ConfigError("WorldModelEnv runs conditioned (cond/guide) worlds from bundles only")
        info = self._stepper.info
        self.action_names = list(info.action_names)
        self.action_space = gym.spaces.Discrete(len(self.action_names))
        self.observation_space = gym.spaces.Box(0, 255, (info.height, info.width, 3), dtype=np.uint8)
        self.render_mode, self.max_episode_steps = render_mode, max_episode_steps
        self._frame, self._steps = None, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._frame, self._steps = self._first_frame(seed), 0
        return self._frame, {"step": 0}

    def step(self, action):
        if self._frame is None:
            raise ConfigError("WorldModelEnv.step before reset()")
        self._frame = np.array(self._stepper.step(action)[0, ..., :3])
        self._steps += 1
        truncated = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        return self._frame, 0.0, False, truncated, {"step": self._steps}

    def render(self):
        return None if self._frame is None else self._frame.copy()

    def close(self):
        self._stepper.close()

    def _first_frame(self, seed) -> np.ndarray:
        """A bundle starts from its own context; a checkpoint of a built-in world from `window` real
        frames of the world played with `seed` (default: the held-out seed); one trained on a store
        from the store's first held-out episode."""
        stepper = self._stepper
        if not self._checkpoint:
            return np.array(stepper.reset()[0, ..., :3])
        from vidgen_rt.data.record import play_episode
        from vidgen_rt.generate import context_clip, world_of

        m = stepper.model.config
        if not stepper.state.get("world"):
            clip = context_clip(stepper.config, stepper.state, None, 0)
            actions = clip["actions"] if clip["actions"] is not None else np.zeros(m.window, np.int64)
            return np.array(stepper.reset(clip["frames"][:m.window], actions[:m.window - 1])[0, ..., :3])
        played = play_episode(world_of(stepper.state), "explore", HELD_OUT_SEED if seed is None else seed, m.window,
                              m.frame_height, m.frame_width)
        return np.array(stepper.reset(played["frames"], played["actions"][:m.window - 1])[0, ..., :3])


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=WorldModelEnv)
