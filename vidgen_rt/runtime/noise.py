"""The noise a flow head samples from, drawn the same way by every runtime (docs/architecture.md §4).

Graphs hold no random ops: the runtime draws `noise_bits` from Philox4x32-10 (Salmon et al., 2011,
"Parallel random numbers: as easy as 1, 2, 3"), a counter-based generator, so frame d's noise is a
pure function of (seed, d) and a snapshot needs only the draw index to replay. Key = (seed & 0xffffffff,
seed >> 32); the frame with draw index d fills its [B, 2, C, h, w] tensor in C order from blocks
j = 0, 1, ... with counter (d & 0xffffffff, d >> 32, j, 0), four words per block, each shifted right
by 8 (24 bits). noise.onnx turns the bits into Gaussians (Box-Muller); `gaussian` here is the same
formula for the PyTorch stepper. The C++ twin is native/src/philox.cpp.
"""

from __future__ import annotations

import numpy as np

PHILOX_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
PHILOX_W = (np.uint64(0x9E3779B9), np.uint64(0xBB67AE85))
ROUNDS = 10
BITS_PER_VALUE = 24
MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32(counters: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of counters (n, 4) uint32 under key (k0, k1) -> (n, 4) uint32 words."""
    c = [counters[:, i].astype(np.uint64) for i in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for round_index in range(ROUNDS):
        if round_index:
            k0, k1 = (k0 + PHILOX_W[0]) & MASK32, (k1 + PHILOX_W[1]) & MASK32
        product0, product1 = PHILOX_M[0] * c[0], PHILOX_M[1] * c[2]  # 32x32 -> 64 bits, exact in uint64
        hi0, lo0 = product0 >> np.uint64(32), product0 & MASK32
        hi1, lo1 = product1 >> np.uint64(32), product1 & MASK32
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return np.stack(c, axis=1).astype(np.uint32)


def noise_bits(seed: int, draw: int, shape: tuple[int, ...]) -> np.ndarray:
    """The noise_bits tensor of the frame with draw index `draw`: int32 of `shape` ([B, 2, C, h, w]),
    every value in 0 .. 2^24 - 1."""
    count = int(np.prod(shape))
    blocks = (count + 3) // 4
    counters = np.zeros((blocks, 4), dtype=np.uint32)
    counters[:, 0] = draw & 0xFFFFFFFF
    counters[:, 1] = draw >> 32
    counters[:, 2] = np.arange(blocks, dtype=np.uint32)
    words = philox4x32(counters, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:count]
    return (words >> np.uint32(32 - BITS_PER_VALUE)).astype(np.int32).reshape(shape)


def gaussian(bits: np.ndarray, temperature: float) -> np.ndarray:
    """noise.onnx in numpy: bits [B, 2, C, h, w] -> temperature·sqrt(-2 ln u1)·cos(2π u2), float32,
    u1 = (bits[:, 0] + 1)·2^-24 (never 0), u2 = bits[:, 1]·2^-24."""
    scale = np.float32(2.0 ** -BITS_PER_VALUE)
    u1 = (bits[:, 0].astype(np.float32) + np.float32(1)) * scale
    u2 = bits[:, 1].astype(np.float32) * scale
    radius = np.sqrt(np.float32(-2) * np.log(u1))
    return np.float32(temperature) * radius * np.cos(np.float32(2 * np.pi) * u2)
