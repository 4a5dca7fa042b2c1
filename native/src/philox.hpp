// Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011): the counter-based generator that draws a flow head's noise (docs/architecture.md §4).
// A block is a pure function of (counter, key), so frame d's noise depends only on the seed and d:
// a snapshot needs to keep nothing but the draw index, and the numpy generator in
// vidgen_rt/runtime/noise.py produces the same words bit for bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace vgrt {

using PhiloxWords = std::array<uint32_t, 4>;

// Ten rounds of Philox4x32 on `counter` under `key`.
PhiloxWords philox4x32_10(PhiloxWords counter, std::array<uint32_t, 2> key);

// Frame `draw`'s noise bits: block j uses counter (draw lo, draw hi, j, 0) and key (seed lo, seed hi);
// `out[i]` is word i % 4 of block i / 4, shifted right by 8 so every value is in 0 .. 2^24 - 1.
void philox_noise_bits(uint64_t seed, uint64_t draw, int32_t* out, size_t count);

}  // namespace vgrt
