// Philox4x32-10 and the noise-bit layout of a flow head's frame (see philox.hpp).
#include "philox.hpp"

namespace vgrt {
namespace {

constexpr uint32_t kMultiplier0 = 0xD2511F53u;
constexpr uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // the golden ratio, added to key word 0 each round
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1, added to key word 1

void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
    const uint64_t product = uint64_t(a) * uint64_t(b);
    hi = uint32_t(product >> 32);
    lo = uint32_t(product);
}

}  // namespace

PhiloxWords philox4x32_10(PhiloxWords c, std::array<uint32_t, 2> k) {
    for (int round = 0; round < 10; ++round) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(kMultiplier0, c[0], hi0, lo0);
        mulhilo(kMultiplier1, c[2], hi1, lo1);
        c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
        k[0] += kWeyl0;
        k[1] += kWeyl1;
    }
    return c;
}

void philox_noise_bits(uint64_t seed, uint64_t draw, int32_t* out, size_t count) {
    const std::array<uint32_t, 2> key{uint32_t(seed), uint32_t(seed >> 32)};
    for (size_t i = 0; i < count; i += 4) {
        const uint64_t block = i / 4;
        const PhiloxWords words =
            philox4x32_10({uint32_t(draw), uint32_t(draw >> 32), uint32_t(block), 0}, key);
        for (size_t w = 0; w < 4 && i + w < count; ++w) out[i + w] = int32_t(words[w] >> 8);
    }
}

}  // namespace vgrt
