"""The maze renderer: pinhole and 360° views of tile-grid mazes, many poses per call.

A view is pure geometry: for every image column the ray direction in the camera frame (forward,
right) and for every image row the slope of the eye ray (vertical offset per unit of distance,
positive downward). The camera sits half a tile above the floor; walls span heights 0..1. Given a
pose, one ray per column is cast (raycast.py); a pixel lies on the wall when |slope · distance| < ½,
and its texel row follows from the same product. Every pixel of a batch of frames becomes one index
into the baked colour table (textures.py), and the frames are one gather from it.

The same formulas serve both views. For the pinhole view the ray parameter is the distance along
the view axis (the z-buffer depth); for the equirectangular panorama the rays are unit vectors and
the distance is horizontal (cylindrical). Floor and ceiling pixels get their planar distance
0.5 / |slope|, clipped to MAX_DEPTH.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidgen_rt.worlds.raycast import cast_rays
from vidgen_rt.worlds.textures import MIP_LEVELS, TEXTURE_SIZE, colour_table

MAX_DEPTH = 64.0  # tiles; floor/ceiling depth at the horizon, beyond any wall of a 12-room maze
CHUNK_PIXELS = 64 * 64 * 32  # pixels per slice of a batch: keeps the int32 temporaries (~0.5 MB each) in cache


@dataclass(frozen=True)
class View:
    height: int
    width: int
    forward: np.ndarray            # (W,) float64: ray direction along the heading, per column
    right: np.ndarray              # (W,) float64: ray direction to the right of the heading
    slope: np.ndarray              # (H,) float32: vertical offset per unit distance, + downward
    pixel_slope: float             # size of one pixel in slope units (for choosing mip levels)
    background: np.ndarray         # (H,) int32: colour-table index of each row's floor/ceiling
    background_depth: np.ndarray   # (H,) float32: planar distance of each row's floor/ceiling


def _make_view(height: int, width: int, forward, right, slope, pixel_slope: float) -> View:
    slope = np.asarray(slope, dtype=np.float32)
    planar = np.minimum(0.5 / np.maximum(np.abs(slope.astype(np.float64)), 1e-9), MAX_DEPTH)
    background = colour_table().background_index(planar, slope > 0)
    return View(height, width, np.asarray(forward, dtype=np.float64), np.asarray(right, dtype=np.float64),
                slope, float(pixel_slope), background, planar.astype(np.float32))


def perspective_view(height: int, width: int, fov_degrees: float) -> View:
    """A pinhole camera with horizontal field of view `fov_degrees` and square pixels."""
    half_tan = np.tan(np.radians(fov_degrees) / 2)
    focal = (width / 2) / half_tan  # pixels per unit of slope
    camera_x = (np.arange(width) + 0.5) / width * 2 - 1
    slope = (np.arange(height) + 0.5 - height / 2) / focal
    return _make_view(height, width, np.ones(width), camera_x * half_tan, slope, 1.0 / focal)


def panorama_view(height: int, width: int) -> View:
    """Equirectangular 360°: yaw across columns (centred on the heading, right is +), pitch from
    +90° (top row) to -90° (bottom row)."""
    yaw = ((np.arange(width) + 0.5) / width - 0.5) * 2 * np.pi
    pitch = (0.5 - (np.arange(height) + 0.5) / height) * np.pi
    return _make_view(height, width, np.cos(yaw), np.sin(yaw), -np.tan(pitch), np.pi / height)


class MazeRenderer:
    """Renders frames of poses in a stack of mazes (M, G, G) sharing one grid size."""

    def __init__(self, grids: np.ndarray):
        self.side = grids.shape[-1]
        self.grids = np.ascontiguousarray(grids, dtype=np.uint8).reshape(-1)  # (M·G·G,)
        self.table = colour_table()

    def render(self, view: View, x: np.ndarray, y: np.ndarray, angle: np.ndarray, maze: np.ndarray,
               guides: bool = False):
        """Frames (B, H, W, 3) uint8 of B poses; with guides=True also depth (B, H, W) float32 and
        wall_id (B, H, W) uint8 (0 = floor/ceiling, 1..K = wall material)."""
        batch = len(x)
        # Work in slices of about CHUNK_PIXELS so the per-pixel temporaries stay in the CPU cache.
        step = max(1, CHUNK_PIXELS // (view.height * view.width))
        if batch <= step:
            return self._render_slice(view, x, y, angle, maze, guides)
        parts = [self._render_slice(view, x[s:s + step], y[s:s + step], angle[s:s + step], maze[s:s + step], guides)
                 for s in range(0, batch, step)]
        if not guides:
            return np.concatenate(parts)
        return tuple(np.concatenate(part) for part in zip(*parts))

    def _render_slice(self, view: View, x, y, angle, maze, guides: bool):
        distance, material, column = self._columns(view, x, y, angle, maze)
        t = TEXTURE_SIZE
        scaled = (distance * t).astype(np.float32)[:, None, :]                 # (B, 1, W)
        # texel row + T: integer truncation then behaves like floor over the whole wall span
        row = view.slope[None, :, None] * scaled                              # (B, H, W)
        row += 1.5 * t
        texel = row.astype(np.int32)
        texel -= t
        on_wall = texel.view(np.uint32) < t  # negative rows wrap to huge unsigned values
        texel *= t
        texel += column[:, None, :]
        index = np.where(on_wall, texel, view.background[None, :, None])
        frames = self.table.colours.take(index, axis=0)                        # (B, H, W, 3)
        if not guides:
            return frames
        depth = np.where(on_wall, distance.astype(np.float32)[:, None, :], view.background_depth[None, :, None])
        wall_id = np.where(on_wall, material[:, None, :], np.uint8(0))
        return frames, depth, wall_id

    def _columns(self, view: View, x, y, angle, maze):
        """Per column (B, W): wall distance, wall material, and the table index of texel row 0."""
        batch, width = len(x), view.width
        cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
        dx = view.forward * cos - view.right * sin                            # (B, W)
        dy = view.forward * sin + view.right * cos
        origin_x = np.repeat(x, width)                                       # (B·W,)
        origin_y = np.repeat(y, width)
        base = np.repeat(maze.astype(np.intp) * self.side * self.side, width)
        hits = cast_rays(self.grids, self.side, base, origin_x, origin_y, dx.ravel(), dy.ravel())
        table, t = self.table, TEXTURE_SIZE
        # A pixel covers distance·pixel_slope of wall height; walls seen at a grazing angle stretch
        # it horizontally by 1/cos(incidence), which the mip level must absorb or stripes alias.
        incidence = np.where(hits.side == 1, np.abs(dy.ravel()), np.abs(dx.ravel())) / np.hypot(dx, dy).ravel()
        footprint = t * hits.distance * view.pixel_slope / np.maximum(incidence, 0.25)
        level = np.clip(np.rint(np.log2(np.maximum(footprint, 1.0))), 0, MIP_LEVELS - 1).astype(np.int32)
        u = np.minimum((hits.u * t).astype(np.int32), t - 1)
        column = (table.fog_level(hits.distance) * table.fog_stride + hits.side * table.side_stride
                  + level * table.level_stride + (hits.material.astype(np.int32) - 1) * table.material_stride + u)
        shape = (batch, width)
        return hits.distance.reshape(shape), hits.material.reshape(shape), column.reshape(shape)
