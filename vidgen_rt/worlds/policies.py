"""Policies that play built-in worlds to record action-labelled video: `policy.act(world) -> int`.

`RandomPersistentPolicy` presses random keys and holds each for a few frames, the way a person does,
which gives the model runs of consistent motion rather than per-frame jitter. `ExplorerPolicy` walks
the maze with a randomized right-hand rule so episodes travel through corridors instead of
rubbing a wall; on top of that it plays short bursts of every other action (strafes, backward
steps, pauses, glances aside), because the recorded dataset must teach the model what each action
does. Its controller steers from the current pose toward the next room, so it recovers from any
burst by itself. Both are deterministic for a seed; `reset()` restarts them.
"""

from __future__ import annotations

import numpy as np

from vidgen_rt.errors import ConfigError
from vidgen_rt.worlds.maze_layout import DIRECTIONS
from vidgen_rt.worlds.motion import ACTIONS, TURN_STEP

NOOP, FORWARD, BACKWARD, TURN_LEFT, TURN_RIGHT, STRAFE_LEFT, STRAFE_RIGHT = range(len(ACTIONS))

# How often a human-like random player presses each maze action: mostly moving, some idling.
RANDOM_WEIGHTS = (0.06, 0.34, 0.10, 0.15, 0.15, 0.10, 0.10)


class RandomPersistentPolicy:
    """Random actions held for a geometric number of frames (mean `mean_hold`)."""

    def __init__(self, n_actions: int, seed: int, mean_hold: float = 4.0, weights=None):
        if n_actions < 1 or mean_hold < 1:
            raise ConfigError(f"need n_actions >= 1 and mean_hold >= 1, got {n_actions} and {mean_hold}")
        if weights is None:
            weights = RANDOM_WEIGHTS if n_actions == len(ACTIONS) else np.ones(n_actions)
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n_actions,) or (weights < 0).any() or weights.sum() <= 0:
            raise ConfigError(f"weights must be {n_actions} non-negative numbers, not all zero")
        self.n_actions, self.seed, self.mean_hold = n_actions, seed, float(mean_hold)
        self.weights = weights / weights.sum()
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._action, self._left = 0, 0

    def act(self, world=None) -> int:
        if self._left == 0:
            self._action = int(self._rng.choice(self.n_actions, p=self.weights))
            self._left = int(self._rng.geometric(1.0 / self.mean_hold))
        self._left -= 1
        return self._action


# Bursts the explorer interleaves with walking: (weight, actions) where each action repeats 2..6 times.
_BURSTS = (
    (3, (STRAFE_LEFT,)), (3, (STRAFE_RIGHT,)),
    (2, (STRAFE_LEFT, STRAFE_RIGHT)), (2, (STRAFE_RIGHT, STRAFE_LEFT)),
    (4, (BACKWARD,)), (3, (NOOP,)),
    (2, (TURN_LEFT,)), (2, (TURN_RIGHT,)),   # glance aside; steering turns back afterwards
)


class ExplorerPolicy:
    """A wall follower: at each room take the right-most open way (sometimes a random one), walk to
    the next room's centre, and now and then play a short burst of strafes, backward steps, pauses or
    glances. Needs a maze world: `layout`, `position`, `angle`."""

    def __init__(self, seed: int, burst_rate: float = 0.06, random_turn: float = 0.3):
        self.seed, self.burst_rate, self.random_turn = seed, burst_rate, random_turn
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._queue: list[int] = []
        self._target: tuple[int, int] | None = None   # (row, col) tile of the room walked to
        self._heading = 0                              # index into DIRECTIONS of the last leg

    def act(self, world) -> int:
        if not self._queue and self._rng.random() < self.burst_rate:
            self._queue = self._burst()
        if self._queue:
            return self._queue.pop(0)
        return self._steer(world)

    def _burst(self) -> list[int]:
        weights = np.array([w for w, _ in _BURSTS], dtype=np.float64)
        _, actions = _BURSTS[int(self._rng.choice(len(_BURSTS), p=weights / weights.sum()))]
        return [a for a in actions for _ in range(int(self._rng.integers(2, 7)))]

    def _steer(self, world) -> int:
        x, y = world.position
        if self._target is None:
            self._target = self._next_room(world.layout, (int(y), int(x)))
        elif np.hypot(self._target[1] + 0.5 - x, self._target[0] + 0.5 - y) < 0.2:
            self._target = self._next_room(world.layout, self._target)
        dx, dy = self._target[1] + 0.5 - x, self._target[0] + 0.5 - y
        error = (np.arctan2(dy, dx) - world.angle + np.pi) % (2 * np.pi) - np.pi
        if abs(error) > TURN_STEP / 2:
            return TURN_RIGHT if error > 0 else TURN_LEFT
        return FORWARD

    def _next_room(self, layout: np.ndarray, room: tuple[int, int]) -> tuple[int, int]:
        """Right-hand rule over the open exits of `room`; a random exit with probability random_turn."""
        r, c = room
        # rooms sit on odd tiles; a player pushed off-centre by a burst resumes from the nearest room
        r, c = r - (r % 2 == 0), c - (c % 2 == 0)
        preference = [(self._heading + turn) % 4 for turn in (1, 0, 3, 2)]   # right, ahead, left, back
        exits = [k for k in preference if layout[r + DIRECTIONS[k][0], c + DIRECTIONS[k][1]] == 0]
        ahead = [k for k in exits if k != preference[3]] or exits
        choice = ahead[int(self._rng.integers(len(ahead)))] if self._rng.random() < self.random_turn else exits[0]
        self._heading = choice
        dr, dc = DIRECTIONS[choice]
        return r + 2 * dr, c + 2 * dc


POLICIES = {"random": RandomPersistentPolicy, "explore": ExplorerPolicy}


def make_policy(name: str, world, seed: int):
    """Policy `name` for `world`, deterministic for `seed`."""
    if name not in POLICIES:
        raise ConfigError(f"unknown policy {name!r}: valid policies are {', '.join(sorted(POLICIES))}")
    if name == "random":
        return RandomPersistentPolicy(len(world.action_names), seed)
    if not hasattr(world, "layout"):
        raise ConfigError(f"policy 'explore' needs a maze world with a layout, got {type(world).__name__}")
    return ExplorerPolicy(seed)
