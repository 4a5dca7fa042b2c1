"""The built-in world `maze360`: the `maze` world seen as 360° equirectangular panoramas.

Same mazes (from the seed), same motion and the same seven actions as `maze`; every frame is the
full panorama around the player (yaw across columns, centred on the heading, right positive; pitch
from +90° at the top row to -90° at the bottom), 2:1, e.g. 64×128. A viewer turns the player's head
by reprojecting the panorama (`vidgen play --vr`), so head rotation needs no new generated frame;
the turn actions turn the body, which moves the panorama's centre. Guide maps are the panorama's
depth (horizontal distance) and wall ids.
"""

from __future__ import annotations

import numpy as np

from vidgen_rt.worlds.maze import MazeWorld
from vidgen_rt.worlds.motion import ACTIONS, MOVE_STEP, TURN_STEP


class PanoramaMazeWorld:
    """One player in the maze of `seed`; frames are (height, width, 3) uint8 panoramas."""

    action_names = ACTIONS
    move_step = MOVE_STEP
    turn_step = TURN_STEP

    def __init__(self, seed: int, height: int = 64, width: int = 128, cells: int = 12, level: int | None = None):
        # The perspective view of the inner world is never rendered; 1x1 keeps it free.
        self._world = MazeWorld(seed, height=1, width=1, cells=cells, level=level)
        self._world.render_panorama(height, width)  # checks the size
        self.seed, self.height, self.width = self._world.seed, height, width

    @property
    def position(self) -> tuple[float, float]:
        return self._world.position

    @property
    def angle(self) -> float:
        return self._world.angle

    @property
    def layout(self) -> np.ndarray:
        return self._world.layout

    def reset(self) -> np.ndarray:
        self._world.reset()
        return self.render()

    def step(self, action: int) -> np.ndarray:
        self._world.step(action)
        return self.render()

    def render(self) -> np.ndarray:
        return self._world.render_panorama(self.height, self.width)

    def render_guides(self) -> dict:
        return self._world.render_panorama_guides(self.height, self.width)
