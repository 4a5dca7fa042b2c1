"""Vectorised ray casting on tile grids: the first wall every ray meets, for all rays at once.

This is the DDA of Wolfenstein-style renderers split by axis. The walls a ray can hit on vertical
grid lines (x = const) and on horizontal ones (y = const) are found independently; the nearer of
the two is the hit. For one axis, the crossings with the next k grid lines are a (rays, k) matrix
computed in a few numpy operations, so instead of one Python iteration per DDA step there are only
a handful of chunks: most rays in a maze stop within the first chunk, and only the rays still
flying are carried into the next one. Both axes run through one scan (each ray twice, with the
roles of x and y swapped), which halves the numpy calls a single frame pays for.

Rays of many frames, and of several mazes, are cast together: grids are stacked and flattened, and
each ray carries the flat offset of its maze. The border of every grid must be solid (layouts are),
which guarantees that every ray stops inside its grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Grid lines examined per chunk: short first (most rays in a maze hit a wall within a few tiles),
# then longer so that rays down long corridors need few extra numpy passes.
CHUNKS = (4, 8, 16, 32)


@dataclass
class Hits:
    """Per-ray results; `distance` is in units of the ray direction's length (the ray parameter)."""

    distance: np.ndarray   # (R,) float64
    material: np.ndarray   # (R,) uint8, the tile value hit (1..K)
    side: np.ndarray       # (R,) int32, 0 = hit a vertical line (x = const), 1 = a horizontal one
    u: np.ndarray          # (R,) float64 in [0, 1): where along the wall face the ray hit


def _scan(grids: np.ndarray, side: int, base: np.ndarray, oa: np.ndarray, da: np.ndarray,
          ob: np.ndarray, db: np.ndarray, stride_a: np.ndarray, stride_b: np.ndarray):
    """First wall each ray meets on the grid lines a = const. Returns (t, material, b at the hit).

    `a` is the axis whose lines a ray crosses, `b` the other; per-ray strides turn (a, b) tile
    coordinates into flat offsets, so one call scans x-lines for some rays and y-lines for others.
    Rays parallel to their lines (da == 0) never cross one and keep t = inf.

    Crossings past the true hit may index outside the grid; they never matter (argmax takes the
    first hit), so instead of clipping each coordinate the gather clips the flat index. Likewise a
    crossing whose b coordinate left the grid lies beyond the ray's hit on the other axis (it had to
    pass the solid border first), so whatever it reads is discarded by cast_rays' min.
    """
    n = len(oa)
    t_hit = np.full(n, np.inf)
    material = np.zeros(n, dtype=np.uint8)
    b_hit = np.zeros(n)
    step = np.where(da > 0, 1, -1)
    cell = np.floor(oa)
    inv = np.divide(1.0, da, out=np.zeros(n), where=da != 0)
    t_first = (cell + (da > 0) - oa) * inv          # t at the first line crossed
    t_step = np.abs(inv)                            # t between successive lines
    flat_first = base + (cell.astype(np.intp) + step) * stride_a   # tile entered at the first line, b = 0
    flat_step = step * stride_a
    active = np.nonzero(da != 0)[0]
    k0, chunk = 0, 0
    while len(active) and k0 < side:
        size = CHUNKS[min(chunk, len(CHUNKS) - 1)]
        k = np.arange(k0, k0 + size)
        t = t_first[active, None] + k * t_step[active, None]                 # (n_active, size)
        b = ob[active, None] + t * db[active, None]
        flat = flat_first[active, None] + k * flat_step[active, None] + b.astype(np.intp) * stride_b[active, None]
        values = grids.take(flat, mode="clip")
        hit = values > 0
        done = hit.any(axis=1)
        first = hit.argmax(axis=1)[done]
        rays = active[done]
        rows = np.nonzero(done)[0]
        t_hit[rays] = t[rows, first]
        material[rays] = values[rows, first]
        b_hit[rays] = b[rows, first]
        active = active[~done]
        k0, chunk = k0 + size, chunk + 1
    return t_hit, material, b_hit


def cast_rays(grids: np.ndarray, side: int, base: np.ndarray, ox: np.ndarray, oy: np.ndarray,
              dx: np.ndarray, dy: np.ndarray) -> Hits:
    """Cast R rays from (ox, oy) along (dx, dy) in the flattened grids (M·G·G,) of side G.

    `base` holds each ray's maze offset (maze index · G·G). Tile (row, col) of a grid is its
    flat entry row·G + col, and x runs along columns, y along rows.
    """
    n = len(ox)
    ones, rows = np.ones(n, dtype=np.intp), np.full(n, side, dtype=np.intp)
    # Rays 0..n-1 scan the x-lines (a = x, b = y), rays n..2n-1 the y-lines (a = y, b = x).
    t, material, b = _scan(grids, side, np.concatenate([base, base]), np.concatenate([ox, oy]),
                           np.concatenate([dx, dy]), np.concatenate([oy, ox]), np.concatenate([dy, dx]),
                           np.concatenate([ones, rows]), np.concatenate([rows, ones]))
    horizontal = t[n:] < t[:n]
    distance = np.where(horizontal, t[n:], t[:n])
    u = np.where(horizontal, b[n:], b[:n])
    u = u - np.floor(u)
    # Mirror faces seen from the other side so a texture reads the same way round from both sides.
    flip = np.where(horizontal, dy < 0, dx > 0)
    u = np.where(flip, 1.0 - u, u)
    return Hits(distance=distance, material=np.where(horizontal, material[n:], material[:n]),
                side=horizontal.astype(np.int32), u=np.minimum(u, np.nextafter(1.0, 0.0)))
