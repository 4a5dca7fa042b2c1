"""Built-in worlds: procedural environments that produce action-labelled video on demand.

A world is built from an integer seed and a frame size; it has `action_names`, `reset() -> frame`,
`step(action) -> frame`, `render()` and `render_guides()` (per-pixel depth and wall id): `maze` (a
ray-cast first-person grid maze, see maze.py) and `maze360` (the same mazes as 360° equirectangular
panoramas for VR, see maze360.py); policies that play worlds live in policies.py. A world spec may
fix one level for every episode, `maze:level=7,cells=6`, the way a game ships its maps.
"""

from __future__ import annotations

from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds.maze import MazeBatch, MazeWorld
from vidgen_rt.worlds.maze360 import PanoramaMazeWorld
from vidgen_rt.worlds.motion import ACTIONS

ACTION_NAMES = ACTIONS
# The first seed of the held-out split: training data comes from seeds below it, evaluation,
# generation and exported contexts start here (docs/evaluation.md says what it means per world).
HELD_OUT_SEED = 1_000_000
WORLDS = {"maze": MazeWorld, "maze360": PanoramaMazeWorld}

__all__ = ["ACTIONS", "ACTION_NAMES", "HELD_OUT_SEED", "WORLDS", "MazeBatch", "MazeWorld", "PanoramaMazeWorld", "make_world",
           "parse_world", "world_spec"]


# Options a world spec may carry after its name, `maze:level=7,cells=6`: `level` fixes one maze for
# every episode (a game level: seeds then only pick the start pose), `cells` sets its rooms a side.
WORLD_OPTIONS = ("level", "cells")


def world_spec(name: str, **options) -> str:
    """The spec string naming world `name` with `options` (None values left out); parse_world's inverse."""
    given = {key: value for key, value in options.items() if value is not None}
    return name + (":" + ",".join(f"{key}={given[key]}" for key in WORLD_OPTIONS if key in given) if given else "")


def parse_world(spec: str) -> tuple[str, dict]:
    """`maze:level=7,cells=6` -> ("maze", {"level": 7, "cells": 6}); ConfigError on anything else."""
    name, _, tail = spec.partition(":")
    if name not in WORLDS:
        raise ConfigError(f"unknown world {name!r}: valid worlds are {', '.join(sorted(WORLDS))}")
    options = {}
    for item in filter(None, tail.split(",")):
        key, _, value = item.partition("=")
        if key not in WORLD_OPTIONS or not value.isdigit():
            raise ConfigError(f"world {spec!r}: bad option {item!r}, expected "
                              f"{' or '.join(f'{k}=N' for k in WORLD_OPTIONS)} with N a non-negative integer")
        options[key] = int(value)
    return name, options


def make_world(spec: str, seed: int = 0, height: int = 64, width: int = 64):
    """The built-in world `spec` (a name with optional options, see parse_world) generated from
    `seed`, rendering height×width frames."""
    name, options = parse_world(spec)
    return WORLDS[name](seed, height=height, width=width, **options)
