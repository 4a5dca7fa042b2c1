"""Built-in worlds: procedural environments that produce action-labelled video on demand.

A world is built from an integer seed and a frame size; it has `action_names`, `reset() -> frame`,
`step(action) -> frame`, `render()` and `render_guides()` (per-pixel depth and wall id): `maze` (a
ray-cast first-person grid maze, see maze.py) and `maze360` (the same mazes as 360° equirectangular
panoramas for VR, see maze360.py); policies that play worlds live in policies.py.
"""

from __future__ import annotations

from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds.maze import MazeBatch, MazeWorld
from vidgen_rt.worlds.maze360 import PanoramaMazeWorld
from vidgen_rt.worlds.motion import ACTIONS

ACTION_NAMES = ACTIONS
WORLDS = {"maze": MazeWorld, "maze360": PanoramaMazeWorld}

__all__ = ["ACTIONS", "ACTION_NAMES", "WORLDS", "MazeBatch", "MazeWorld", "PanoramaMazeWorld", "make_world"]


def make_world(name: str, seed: int = 0, height: int = 64, width: int = 64):
    """The built-in world `name` generated from `seed`, rendering height×width frames."""
    if name not in WORLDS:
        raise ConfigError(f"unknown world {name!r}: valid worlds are {', '.join(sorted(WORLDS))}")
    return WORLDS[name](seed, height=height, width=width)
