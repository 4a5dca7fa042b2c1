"""Wall materials and the shaded colour table the ray caster indexes into.

Each of the K wall materials is a small T×T texture with its own colour AND pattern (bricks, framed
stone, stripes, checker, diagonals), so walls stay distinguishable when their colours are fogged and
motion is visible on every wall. A mip chain (block averages) keeps distant walls from aliasing into
noise at 64×64.

Shading is baked, not computed per pixel: the table holds every texel of every mip level of every
material under F fog levels and two side shades (walls facing ±y are darker), followed by the
floor and ceiling colours at F_BG distance levels. A frame is then one integer index per pixel and a
single gather, which is what makes the numpy renderer fast.
"""

from __future__ import annotations

import functools

import numpy as np

TEXTURE_SIZE = 16          # T: texels per wall tile edge
MIP_LEVELS = 5             # 16, 8, 4, 2, 1 texels across
FOG_LEVELS = 32            # F: quantized fog amounts for walls (one per column, so no banding in a wall)
BACKGROUND_LEVELS = 128    # F_BG: floor/ceiling rows vary smoothly, so they get finer levels
FOG_DISTANCE = 9.0         # tiles; fog fraction is 1 - exp(-distance / FOG_DISTANCE)
FOG_COLOUR = np.array([22, 22, 30], dtype=np.float64)
SIDE_SHADE = (1.0, 0.7)    # walls hit on an x grid line, on a y grid line
CEILING_COLOUR = np.array([150, 150, 185], dtype=np.float64)
FLOOR_COLOUR = np.array([150, 120, 85], dtype=np.float64)

MATERIAL_NAMES = ("bricks", "stone", "stripes", "checker", "diagonal")


def _material_textures() -> np.ndarray:
    """The K base textures (K, T, T, 3) float64 in 0..255, indexed [material, v (row), u (col)]."""
    t = TEXTURE_SIZE
    v, u = np.indices((t, t))
    textures = np.empty((len(MATERIAL_NAMES), t, t, 3))
    # bricks: 8×4 red bricks in running bond with pale mortar
    offset = np.where((v // 4) % 2 == 1, 4, 0)
    mortar = (v % 4 == 0) | ((u + offset) % 8 == 0)
    textures[0] = np.where(mortar[..., None], [200, 190, 170], [165, 55, 40])
    # stone: plain blue-grey slab with a dark frame so tile edges show where walls are flat
    frame = (u == 0) | (v == 0) | (u == t - 1) | (v == t - 1)
    textures[1] = np.where(frame[..., None], [45, 60, 90], [95, 125, 185])
    # stripes: vertical green stripes, 4 texels wide
    textures[2] = np.where(((u // 4) % 2 == 0)[..., None], [60, 170, 70], [25, 95, 35])
    # checker: 4×4 yellow/orange squares
    textures[3] = np.where((((u // 4) + (v // 4)) % 2 == 0)[..., None], [235, 205, 60], [200, 120, 30])
    # diagonal: purple diagonal bands
    textures[4] = np.where((((u + v) // 4) % 2 == 0)[..., None], [170, 80, 190], [90, 40, 120])
    return textures


def _mip_chain(textures: np.ndarray) -> np.ndarray:
    """(L, K, T, T, 3): level l averages 2^l × 2^l texel blocks, repeated back to T×T for uniform indexing."""
    k, t = textures.shape[0], TEXTURE_SIZE
    levels = []
    for level in range(MIP_LEVELS):
        block = 2 ** level
        coarse = textures.reshape(k, t // block, block, t // block, block, 3).mean(axis=(2, 4))  # (K, t/b, t/b, 3)
        levels.append(coarse.repeat(block, axis=1).repeat(block, axis=2))                    # (K, T, T, 3)
    return np.stack(levels)


def fog_fraction(distance: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp(-np.asarray(distance, dtype=np.float64) / FOG_DISTANCE)


class ColourTable:
    """The baked table (N, 3) uint8 and the strides of its wall index.

    Wall entry index = ((((fog·2 + side)·L + level)·K + material)·T + v)·T + u; background entries
    follow at `background_offset`: ceiling levels first, then floor levels.
    """

    def __init__(self) -> None:
        textures = _mip_chain(_material_textures())                       # (L, K, T, T, 3)
        self.n_materials = textures.shape[1]
        fog = np.linspace(0.0, 1.0, FOG_LEVELS)[:, None, None, None, None, None, None]
        side = np.array(SIDE_SHADE)[None, :, None, None, None, None, None]
        walls = textures[None, None] * side * (1.0 - fog) + FOG_COLOUR * fog   # (F, 2, L, K, T, T, 3)
        background = np.stack([self._background(CEILING_COLOUR), self._background(FLOOR_COLOUR)])
        table = np.concatenate([walls.reshape(-1, 3), background.reshape(-1, 3)])
        self.colours = np.clip(np.rint(table), 0, 255).astype(np.uint8)
        t = TEXTURE_SIZE
        self.material_stride = t * t
        self.level_stride = self.n_materials * self.material_stride
        self.side_stride = MIP_LEVELS * self.level_stride
        self.fog_stride = 2 * self.side_stride
        self.background_offset = FOG_LEVELS * self.fog_stride

    @staticmethod
    def _background(colour: np.ndarray) -> np.ndarray:
        """(F_BG, 3): a plane's colour from near (its own colour) to the horizon (all fog)."""
        fog = np.linspace(0.0, 1.0, BACKGROUND_LEVELS)[:, None]
        return colour * (1.0 - fog) + FOG_COLOUR * fog

    def fog_level(self, distance: np.ndarray, levels: int = FOG_LEVELS) -> np.ndarray:
        return np.minimum(np.rint(fog_fraction(distance) * (levels - 1)), levels - 1).astype(np.int32)

    def background_index(self, distance: np.ndarray, floor: np.ndarray) -> np.ndarray:
        """Table index of floor (floor=True) or ceiling pixels seen at planar `distance`."""
        # Planes fade 1.5× faster than walls so they read as a gradient even in short corridors.
        level = self.fog_level(distance * 1.5, BACKGROUND_LEVELS)
        return (self.background_offset + floor.astype(np.int32) * BACKGROUND_LEVELS + level).astype(np.int32)


@functools.lru_cache(maxsize=None)
def colour_table() -> ColourTable:
    """The one shared table (about 1.2 MB): every world and view indexes the same colours."""
    return ColourTable()
