"""WorldModelEnv: a learned world behind the Gymnasium API, for agents, scripts and evaluation loops.

`WorldModelEnv(source)` takes a bundle (`NAME.vgrt`, run by the native runtime, or by the Python
reference driver with `backend="ort-python"`) or a checkpoint / shipped world name (run by PyTorch's
cached step). Spaces come from the world: `Discrete(len(action names))` and RGB uint8 observations
of the frame size. `reset` seeds the stream with the bundle's context frames (or, for a checkpoint of
a built-in world, `window` real frames of the maze with seed `seed`); `step(action)` generates one
frame. A learned world has no reward or terminal state of its own: reward is 0.0 and episodes end
only by truncation after `max_episode_steps` (None: never), as a video game's attract mode would.
"""

from __future__ import annotations

import numpy as np
import torch

from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds import HELD_OUT_SEED

try:
    import gymnasium as gym
except ImportError:  # an optional extra: say how to get it instead of a bare traceback
    raise ConfigError("WorldModelEnv needs gymnasium: pip install 'vidgen_rt[envs]'") from None

BACKENDS = ("auto", "native", "ort-python", "torch")
ENV_ID = "vidgen_rt/WorldModel-v0"  # gymnasium.make(ENV_ID, source="maze.vgrt")


class _BundleDriver:
    """Steps a bundle with the native runtime or OrtStepper; frames come back RGB (H, W, 3)."""

    def __init__(self, path, backend: str, threads):
        from vidgen_rt.export.bundle import load_bundle

        self.bundle = load_bundle(path)
        self.native = backend in ("auto", "native")
        if self.native:
            from vidgen_rt.runtime.native import Runtime

            self.runtime, self.stream = Runtime(path, threads=threads, verify=False), None
        else:
            from vidgen_rt.runtime import OrtStepper

            self.stepper = OrtStepper(self.bundle, threads=threads)
        frame = self.bundle.manifest["frame"]
        self.shape, self.action_names = (frame["height"], frame["width"], 3), self.bundle.action_names

    def reset(self, seed) -> np.ndarray:
        if self.native:
            if self.stream is None:
                self.stream = self.runtime.open_stream(1)
            return np.array(self.stream.reset()[0, ..., :3])
        return self.stepper.reset()[0, ..., :3].copy()

    def step(self, action: int) -> np.ndarray:
        frames = self.stream.step(action) if self.native else self.stepper.step(action)
        return np.array(frames[0, ..., :3])


class _TorchDriver:
    """Steps a checkpoint with PyTorch's cached step (WorldModel.start/advance)."""

    def __init__(self, spec):
        from vidgen_rt.generate import world_of
        from vidgen_rt.train.checkpoint import load_checkpoint

        self.model, self.config, state = load_checkpoint(spec)
        if self.config.model.cond_dim or self.config.model.guide_channels:
            raise ConfigError("WorldModelEnv runs conditioned (cond/guide) worlds from bundles only")
        self.world = world_of(state)
        m = self.config.model
        self.shape = (m.frame_height, m.frame_width, 3)
        self.action_names = state.get("action_names") or [str(i) for i in range(m.n_actions)]

    def reset(self, seed) -> np.ndarray:
        from vidgen_rt.data.record import play_episode

        m = self.config.model
        played = play_episode(self.world, "explore", HELD_OUT_SEED if seed is None else seed, m.window,
                              m.frame_height, m.frame_width)
        latents = self.model.encode_frames(played["frames"]).unsqueeze(0)  # (1, K, C, h, w)
        actions = torch.as_tensor(played["actions"][:m.window - 1])[None]  # (1, K-1)
        self.ring, self.current = self.model.start(latents, actions)
        return played["frames"][-1].copy()

    def step(self, action: int) -> np.ndarray:
        self.current = self.model.advance(self.ring, self.current, torch.tensor([action]))
        return self.model.decode_latents(self.current)[0]


class WorldModelEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, source, backend: str = "auto", max_episode_steps: int | None = None,
                 render_mode: str | None = "rgb_array", threads: int | None = None):
        from pathlib import Path

        if backend not in BACKENDS:
            raise ConfigError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode {render_mode!r}: WorldModelEnv renders 'rgb_array' only")
        is_bundle = (Path(str(source)) / "manifest.json").is_file()
        if backend == "torch" or not is_bundle:
            if backend in ("native", "ort-python"):
                raise ConfigError(f"backend {backend!r} needs a bundle; {source!r} is a checkpoint (vidgen export it)")
            self._driver = _TorchDriver(source)
        else:
            self._driver = _BundleDriver(source, backend, threads)
        self.action_names = list(self._driver.action_names)
        self.action_space = gym.spaces.Discrete(len(self.action_names))
        self.observation_space = gym.spaces.Box(0, 255, self._driver.shape, dtype=np.uint8)
        self.render_mode, self.max_episode_steps = render_mode, max_episode_steps
        self._frame, self._steps = None, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._frame, self._steps = self._driver.reset(seed), 0
        return self._frame, {"step": 0}

    def step(self, action):
        if self._frame is None:
            raise ConfigError("WorldModelEnv.step before reset()")
        if not (isinstance(action, (int, np.integer)) and 0 <= action < self.action_space.n):
            raise ConfigError(f"action {action!r} out of range: this world has actions 0..{self.action_space.n - 1} "
                              f"({', '.join(self.action_names)})")
        self._frame = self._driver.step(int(action))
        self._steps += 1
        truncated = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        return self._frame, 0.0, False, truncated, {"step": self._steps}

    def render(self):
        return None if self._frame is None else self._frame.copy()


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=WorldModelEnv)
