"""The built-in world `maze`: a first-person, ray-cast grid maze generated from an integer seed.

`MazeWorld` is one player in one maze, the interface recorders, policies and evaluation use:
`reset()`, `step(action) -> frame`, `render()`, `render_guides()`, `render_panorama()`. `MazeBatch`
holds B independent players, each in the maze of its own seed, and steps and renders them all with
one call; that is how the world reaches thousands of frames per second on one CPU core, since a
single 64×64 frame costs mostly numpy call overhead. `MazeWorld` is a batch of one, so both share
one motion model and one renderer.

Coordinates are in tiles: the layout is a (G, G) grid indexed [row, col] (0 = open, 1..K = wall
material), x runs along columns and y along rows, and rooms of the maze are the odd tiles.
"""

from __future__ import annotations

import operator
from typing import Sequence

import numpy as np

from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds.maze_layout import generate_layout, level_start
from vidgen_rt.worlds.motion import ACTIONS, MOVE_STEP, TURN_STEP, apply_actions, wrap_angle
from vidgen_rt.worlds.renderer import MazeRenderer, panorama_view, perspective_view

MAX_SIDE = 4096  # pixels; larger frames are a typo, not a request


def _as_int(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _check_size(height, width) -> tuple[int, int]:
    height, width = _as_int(height, "height"), _as_int(width, "width")
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ConfigError(f"frame size must be 1..{MAX_SIDE} pixels a side, got height={height} width={width}")
    return height, width


def check_actions(actions, count: int) -> np.ndarray:
    """Actions as an int array of length `count`, each a valid action id, else ConfigError."""
    array = np.asarray(actions)
    if array.shape != (count,) or not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"actions must be {count} integers, got shape {array.shape} dtype {array.dtype}")
    bad = (array < 0) | (array >= len(ACTIONS))
    if bad.any():
        raise ConfigError(f"action {int(array[bad][0])} is out of range: valid actions are 0..{len(ACTIONS) - 1} "
                          f"({', '.join(f'{i}={name}' for i, name in enumerate(ACTIONS))})")
    return array.astype(np.intp)


class MazeBatch:
    """B players, player i in maze `seeds[i]` (repeated seeds share one grid), stepped together."""

    action_names = ACTIONS
    move_step = MOVE_STEP
    turn_step = TURN_STEP

    def __init__(self, seeds: Sequence[int], height: int = 64, width: int = 64, fov_degrees: float = 66.0,
                 cells: int = 12, level: int | None = None):
        seeds = [_as_int(s, "seed") for s in seeds]
        cells = _as_int(cells, "cells")
        if not seeds:
            raise ConfigError("MazeBatch needs at least one seed")
        if not 2 <= cells <= 256:
            raise ConfigError(f"cells must be 2..256 rooms a side, got {cells}")
        if not 10.0 <= float(fov_degrees) <= 170.0:
            raise ConfigError(f"fov_degrees must be 10..170, got {fov_degrees}")
        self.height, self.width = _check_size(height, width)
        self.fov_degrees = float(fov_degrees)
        if level is None:       # each seed its own maze and start
            unique = sorted(set(seeds))
            generated = {s: generate_layout(s, cells) for s in unique}
            self._grids = np.stack([generated[s][0] for s in unique])            # (M, G, G)
            self._maze = np.array([unique.index(s) for s in seeds], dtype=np.intp)  # (B,) grid of each player
            starts = [generated[s][1] for s in seeds]
        else:                   # one fixed level; the seed only picks where the player starts
            level = _as_int(level, "level")
            if level < 0:
                raise ConfigError(f"level must be a non-negative maze seed, got {level}")
            grid = generate_layout(level, cells)[0]
            self._grids = grid[None]
            self._maze = np.zeros(len(seeds), dtype=np.intp)
            starts = [level_start(level, s, grid) for s in seeds]
        self._start = np.array(starts, dtype=np.float64)                      # (B, 3) x, y, angle
        self._start[:, 2] = wrap_angle(self._start[:, 2])
        self._renderer = MazeRenderer(self._grids)
        self._view = perspective_view(self.height, self.width, self.fov_degrees)
        self._panoramas: dict = {}
        self.seeds = tuple(seeds)
        self._pose = self._start.copy()

    @property
    def size(self) -> int:
        return len(self._maze)

    @property
    def positions(self) -> np.ndarray:
        """(B, 2) float64 x, y in tiles (a copy)."""
        return self._pose[:, :2].copy()

    @property
    def angles(self) -> np.ndarray:
        """(B,) float64 headings in radians, in [-π, π) (a copy)."""
        return self._pose[:, 2].copy()

    def layout(self, index: int = 0) -> np.ndarray:
        """The (G, G) uint8 tile grid player `index` walks in (read-only)."""
        grid = self._grids[self._maze[index]]
        grid.flags.writeable = False
        return grid

    def reset(self) -> np.ndarray:
        self._pose = self._start.copy()
        return self.render()

    def step(self, actions) -> np.ndarray:
        """Apply one action per player; returns the new frames (B, H, W, 3) uint8."""
        actions = check_actions(actions, self.size)
        side = self._grids.shape[-1]
        x, y, a = apply_actions(self._renderer.grids, side, self._maze, self._pose[:, 0], self._pose[:, 1],
                                self._pose[:, 2], actions)
        self._pose = np.stack([x, y, a], axis=1)                              # (B, 3)
        return self.render()

    def render(self) -> np.ndarray:
        return self._renderer.render(self._view, self._pose[:, 0], self._pose[:, 1], self._pose[:, 2], self._maze)

    def render_guides(self) -> dict:
        """depth (B, H, W) float32 along the view axis; wall_id (B, H, W) uint8, 0 = floor/ceiling."""
        _, depth, wall_id = self._renderer.render(self._view, self._pose[:, 0], self._pose[:, 1],
                                                  self._pose[:, 2], self._maze, guides=True)
        return {"depth": depth, "wall_id": wall_id}

    def render_poses(self, positions, angles, maze_index: int = 0) -> np.ndarray:
        """Frames (N, H, W, 3) of arbitrary poses in one of the batch's mazes (no state change)."""
        positions = np.asarray(positions, dtype=np.float64)
        angles = np.asarray(angles, dtype=np.float64)
        side = self._grids.shape[-1]
        if positions.ndim != 2 or positions.shape[1] != 2 or angles.shape != (len(positions),):
            raise ConfigError(f"positions must be (N, 2) and angles (N,), got {positions.shape} and {angles.shape}")
        if not (np.isfinite(positions).all() and np.isfinite(angles).all()):
            raise ConfigError("positions and angles must be finite")
        if ((positions <= 0) | (positions >= side)).any():
            raise ConfigError(f"positions must lie inside the maze, 0 < x, y < {side}")
        maze = np.full(len(positions), self._maze[maze_index], dtype=np.intp)
        return self._renderer.render(self._view, positions[:, 0], positions[:, 1], angles, maze)

    def render_panorama(self, height: int = 64, width: int = 128, guides: bool = False):
        """360° equirectangular views (B, height, width, 3) from every player's pose, yaw centred on
        its heading; with guides=True also (depth, wall_id), depth being horizontal distance."""
        key = _check_size(height, width)
        if key not in self._panoramas:
            self._panoramas[key] = panorama_view(*key)
        return self._renderer.render(self._panoramas[key], self._pose[:, 0], self._pose[:, 1],
                                     self._pose[:, 2], self._maze, guides=guides)


class MazeWorld:
    """One player in the maze of `seed`, or, with `level`, in the fixed maze of seed `level` at the
    start pose `seed` picks; frames are (height, width, 3) uint8."""

    action_names = ACTIONS
    move_step = MOVE_STEP
    turn_step = TURN_STEP

    def __init__(self, seed: int, height: int = 64, width: int = 64, fov_degrees: float = 66.0, cells: int = 12,
                 level: int | None = None):
        self._batch = MazeBatch([seed], height, width, fov_degrees, cells, level)
        self.seed = self._batch.seeds[0]
        self.height, self.width = self._batch.height, self._batch.width

    @property
    def position(self) -> tuple[float, float]:
        x, y = self._batch.positions[0]
        return float(x), float(y)

    @property
    def angle(self) -> float:
        return float(self._batch.angles[0])

    @property
    def layout(self) -> np.ndarray:
        return self._batch.layout(0)

    def reset(self) -> np.ndarray:
        return self._batch.reset()[0]

    def step(self, action: int) -> np.ndarray:
        return self._batch.step([_as_int(action, "action")])[0]

    def render(self) -> np.ndarray:
        return self._batch.render()[0]

    def render_guides(self) -> dict:
        return {name: value[0] for name, value in self._batch.render_guides().items()}

    def render_panorama(self, height: int = 64, width: int = 128) -> np.ndarray:
        return self._batch.render_panorama(height, width)[0]

    def render_panorama_guides(self, height: int = 64, width: int = 128) -> dict:
        """depth (horizontal distance, float32) and wall_id of the panorama, (height, width) each."""
        _, depth, wall_id = self._batch.render_panorama(height, width, guides=True)
        return {"depth": depth[0], "wall_id": wall_id[0]}

    def render_batch(self, positions, angles) -> np.ndarray:
        """Frames (B, H, W, 3) of B poses (positions (B, 2), angles (B,)) in this maze."""
        return self._batch.render_poses(positions, angles)
