"""Player motion in tile-grid mazes: the action set, fixed steps, and collisions with sliding.

Actions move or turn the player by fixed steps, so the same seed and action sequence always give
the same poses. The player is a square of half-size PLAYER_RADIUS; a move is applied one axis at a
time, and an axis whose move would push the square into a wall tile stops exactly at the margin
instead (so walking diagonally into a wall slides along it, and walking straight into it stops with
the wall PLAYER_RADIUS away, the same pose at every further attempt). Everything is vectorised over
a batch of players, each in its own maze of a stacked grid.

Angles: 0 faces +x (increasing column), π/2 faces +y (increasing row), so with rows drawn downward
on a map, turning right increases the angle. Angles are kept in [-π, π).
"""

from __future__ import annotations

import numpy as np

ACTIONS = ("noop", "forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right")
MOVE_STEP = 0.125                 # tiles per forward/backward/strafe step
TURN_STEP = np.radians(10.0)      # radians per turn step: 9 steps make a right angle
PLAYER_RADIUS = 0.25              # tiles; corridors are one tile wide
_MARGIN = 1e-6                    # keeps a stopped player strictly outside the wall tile

# Per action: step along the heading, step to the right of it, turn (+ = right), in units of the steps.
_FORWARD = np.array([0, 1, -1, 0, 0, 0, 0], dtype=np.float64)
_RIGHT = np.array([0, 0, 0, 0, 0, -1, 1], dtype=np.float64)
_TURN = np.array([0, 0, 0, -1, 1, 0, 0], dtype=np.float64)


def wrap_angle(angle):
    return (np.asarray(angle, dtype=np.float64) + np.pi) % (2 * np.pi) - np.pi


def _blocked(grids: np.ndarray, side: int, base: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    """True where any of the tiles (rows[i], cols[j]) is a wall."""
    hit = np.zeros(len(base), dtype=bool)
    for r in rows:
        for c in cols:
            hit |= grids[base + r * side + c] > 0
    return hit


def _move_axis(grids, side, base, along, across, delta, x_axis: bool):
    """Move coordinate `along` by `delta`, stopping at the margin before a wall tile."""
    target = along + delta
    lead = np.floor(target + np.sign(delta) * PLAYER_RADIUS).astype(np.intp)   # tile column/row entered
    span = (np.floor(across - PLAYER_RADIUS).astype(np.intp), np.floor(across + PLAYER_RADIUS).astype(np.intp))
    blocked = _blocked(grids, side, base, span, (lead,)) if x_axis else _blocked(grids, side, base, (lead,), span)
    blocked &= delta != 0
    stop = np.where(delta > 0, lead - PLAYER_RADIUS - _MARGIN, lead + 1 + PLAYER_RADIUS + _MARGIN)
    return np.where(blocked, stop, target)


def apply_actions(grids: np.ndarray, side: int, maze: np.ndarray, x: np.ndarray, y: np.ndarray,
                  angle: np.ndarray, actions: np.ndarray):
    """New (x, y, angle) of B players after one action each; `grids` is the flat (M·G·G,) stack."""
    base = maze.astype(np.intp) * side * side
    forward, right = _FORWARD[actions] * MOVE_STEP, _RIGHT[actions] * MOVE_STEP
    cos, sin = np.cos(angle), np.sin(angle)
    # the right of heading (cos, sin) is (-sin, cos) when y grows downward on the map
    dx = forward * cos - right * sin
    dy = forward * sin + right * cos
    x = _move_axis(grids, side, base, x, y, dx, x_axis=True)
    y = _move_axis(grids, side, base, y, x, dy, x_axis=False)
    return x, y, wrap_angle(angle + _TURN[actions] * TURN_STEP)

