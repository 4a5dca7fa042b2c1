"""Maze layouts: a seeded, nearly perfect maze on a tile grid, with wall materials and a start pose.

A maze of `cells`×`cells` rooms becomes a square tile grid of side G = 2·cells + 1 (Wolfenstein
style): rooms sit on odd (row, col) tiles, walls between rooms on tiles with one even coordinate,
pillars on (even, even) tiles, and the border is solid. A tile holds 0 when it is open and a wall
material 1..K otherwise. The maze is carved by a randomized depth-first search (a perfect maze: one
path between any two rooms), then a fraction of the remaining inner walls is knocked out so the
player meets loops and small open areas instead of nothing but dead-end corridors. Everything comes
from `numpy.random.default_rng(seed)`, so a seed names one layout and one start pose forever.
"""

from __future__ import annotations

import numpy as np

# Unit steps between neighbouring rooms, in (row, col); also the four axis headings the start pose
# and the explorer use: index k faces angle k·90° (0 = +col/east, 1 = +row/south, ...).
DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))


def carve_perfect_maze(rng: np.random.Generator, cells: int) -> np.ndarray:
    """Randomized depth-first search; returns a bool open-tile grid (G, G), G = 2·cells + 1."""
    side = 2 * cells + 1
    open_tiles = np.zeros((side, side), dtype=bool)
    visited = np.zeros((cells, cells), dtype=bool)
    start = (int(rng.integers(cells)), int(rng.integers(cells)))
    stack = [start]
    visited[start] = True
    open_tiles[2 * start[0] + 1, 2 * start[1] + 1] = True
    while stack:
        r, c = stack[-1]
        choices = [(r + dr, c + dc) for dr, dc in DIRECTIONS
                   if 0 <= r + dr < cells and 0 <= c + dc < cells and not visited[r + dr, c + dc]]
        if not choices:
            stack.pop()
            continue
        nr, nc = choices[int(rng.integers(len(choices)))]
        visited[nr, nc] = True
        open_tiles[2 * nr + 1, 2 * nc + 1] = True
        open_tiles[r + nr + 1, c + nc + 1] = True  # the wall tile between the two rooms
        stack.append((nr, nc))
    return open_tiles


def knock_out_walls(rng: np.random.Generator, open_tiles: np.ndarray, fraction: float) -> None:
    """Open `fraction` of the inner wall tiles between two rooms (in place): each one makes a loop."""
    side = open_tiles.shape[0]
    rows, cols = np.nonzero(~open_tiles)
    between = ((rows % 2) != (cols % 2)) & (rows > 0) & (cols > 0) & (rows < side - 1) & (cols < side - 1)
    candidates = np.stack([rows[between], cols[between]], axis=1)  # (n, 2) wall tiles between rooms
    count = int(round(fraction * len(candidates)))
    for r, c in candidates[rng.permutation(len(candidates))[:count]]:
        open_tiles[r, c] = True


def paint_materials(rng: np.random.Generator, open_tiles: np.ndarray, n_materials: int) -> np.ndarray:
    """Wall materials 1..K: one per 4×4-tile district, with a quarter of the tiles repainted at random.

    Districts give areas a recognisable look (landmarks); the random tiles make motion along a long
    wall of one material still visible as tile edges of different colour pass by.
    """
    side = open_tiles.shape[0]
    districts = rng.integers(1, n_materials + 1, size=(side // 4 + 1, side // 4 + 1))
    rows, cols = np.indices((side, side))
    materials = districts[rows // 4, cols // 4]
    repaint = rng.random((side, side)) < 0.25
    materials = np.where(repaint, rng.integers(1, n_materials + 1, size=(side, side)), materials)
    return np.where(open_tiles, 0, materials).astype(np.uint8)


def generate_layout(seed: int, cells: int = 12, loop_fraction: float = 0.12,
                    n_materials: int = 5) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The tile grid (G, G) uint8 of maze `seed` and its start pose (x, y, angle).

    The start is the centre of a random room, facing along an open corridor so the first frame
    shows depth rather than a wall filling the screen.
    """
    rng = np.random.default_rng(seed)
    open_tiles = carve_perfect_maze(rng, cells)
    knock_out_walls(rng, open_tiles, loop_fraction)
    layout = paint_materials(rng, open_tiles, n_materials)
    return layout, random_start(rng, layout)


def random_start(rng: np.random.Generator, layout: np.ndarray) -> tuple[float, float, float]:
    """A start pose (x, y, angle) in `layout`: the centre of a random room, facing an open exit."""
    cells = layout.shape[0] // 2
    room_r, room_c = 2 * int(rng.integers(cells)) + 1, 2 * int(rng.integers(cells)) + 1
    exits = [k for k, (dr, dc) in enumerate(DIRECTIONS) if layout[room_r + dr, room_c + dc] == 0]
    heading = exits[int(rng.integers(len(exits)))]
    return room_c + 0.5, room_r + 0.5, heading * np.pi / 2


def level_start(level: int, seed: int, layout: np.ndarray) -> tuple[float, float, float]:
    """Where episode `seed` starts in the fixed level `level`: every (level, seed) pair its own pose."""
    return random_start(np.random.default_rng([level, seed]), layout)
