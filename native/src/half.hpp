// IEEE half precision <-> float, for fp16 bundles: the caller hands float32 conditions and the
// graphs take float16. Rounding is to nearest even, as numpy's astype(float16) does, so the native
// runtime feeds the same bits as the Python reference driver.
#pragma once

#include <cstdint>
#include <cstring>

namespace vgrt {

inline uint16_t float_to_half(float value) {
    uint32_t x;
    std::memcpy(&x, &value, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) return uint16_t(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
    if (abs >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds to infinity
    if (abs < 0x38800000u) {                                   // subnormal half or zero
        if (abs < 0x33000000u) return uint16_t(sign);
        uint32_t exponent = abs >> 23;
        uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126 - exponent;  // value = mantissa * 2^(exponent-150) = half * 2^-24
        uint32_t half = mantissa >> (shift);
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
        return uint16_t(sign | half);
    }
    uint32_t half = ((abs - 0x38000000u) >> 13);
    uint32_t rest = abs & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return uint16_t(sign | half);
}

inline float half_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    uint32_t x;
    if (exponent == 0x1F) {
        x = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        x = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        x = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while (!(mantissa & 0x400u)) { mantissa <<= 1; --exponent; }
        x = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    float value;
    std::memcpy(&value, &x, 4);
    return value;
}

}  // namespace vgrt
