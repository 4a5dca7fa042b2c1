// RGBA post-processing (see postprocess.hpp). The loops run over plain byte rows with the channel
// stride folded into the index so the compiler vectorises them; border pixels clamp to the edge.
#include "postprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.hpp"

namespace vgrt {
namespace {

void check_range(float value, float lo, float hi, bool open_lo, const char* name) {
    if (!std::isfinite(value) || value > hi || value < lo || (open_lo && value == lo))
        invalid(std::string("postprocess.") + name + " = " + std::to_string(value) + ": expected a value in " +
                (open_lo ? "(" : "[") + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

inline uint8_t clamp_byte(int32_t v) { return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v); }

// One output row of the unsharp mask; rows a (above), c (this), b (below) are already clamped.
void sharpen_row(const uint8_t* a, const uint8_t* c, const uint8_t* b, uint8_t* out, int width, int32_t amount) {
    const int stride = 4 * width;
    auto pixel = [&](int i, int left, int right) {
        int32_t sum = 4 * c[i] + 2 * (a[i] + b[i] + c[left] + c[right]) + a[left] + a[right] + b[left] + b[right];
        int32_t detail = 16 * c[i] - sum;  // 16 * (centre - blur)
        out[i] = clamp_byte(c[i] + ((amount * detail + (1 << 11)) >> 12));
    };
    for (int i = 0; i < 4 && i < stride; ++i) pixel(i, i, width > 1 ? i + 4 : i);
    for (int i = 4; i < stride - 4; ++i) {
        int32_t sum = 4 * c[i] + 2 * (a[i] + b[i] + c[i - 4] + c[i + 4]) + a[i - 4] + a[i + 4] + b[i - 4] + b[i + 4];
        int32_t detail = 16 * c[i] - sum;
        out[i] = clamp_byte(c[i] + ((amount * detail + (1 << 11)) >> 12));
    }
    if (width > 1)
        for (int i = stride - 4; i < stride; ++i) pixel(i, i - 4, i);
    for (int x = 0; x < width; ++x) out[4 * x + 3] = c[4 * x + 3];
}

}  // namespace

PostProcess::PostProcess() { set(vgrt_postprocess_default()); }

void PostProcess::set(const vgrt_postprocess& params) {
    check_range(params.brightness, -1.0f, 1.0f, false, "brightness");
    check_range(params.contrast, 0.0f, 16.0f, false, "contrast");
    check_range(params.gamma, 0.0f, 16.0f, true, "gamma");
    check_range(params.sharpen, 0.0f, 16.0f, false, "sharpen");
    params_ = params;
    tone_ = params.brightness != 0.0f || params.contrast != 1.0f || params.gamma != 1.0f;
    amount_q8_ = int32_t(std::lround(params.sharpen * 256.0f));
    const double inverse_gamma = 1.0 / params.gamma;
    for (int x = 0; x < 256; ++x) {
        double v = (x / 255.0 - 0.5) * params.contrast + 0.5 + params.brightness;
        v = std::pow(std::clamp(v, 0.0, 1.0), inverse_gamma);
        lut_[x] = tone_ ? uint8_t(std::lround(v * 255.0)) : uint8_t(x);
    }
}

void PostProcess::sharpen(const uint8_t* source, uint8_t* target, int height, int width) const {
    const size_t stride = size_t(width) * 4;
    for (int y = 0; y < height; ++y) {
        const uint8_t* above = source + size_t(y > 0 ? y - 1 : 0) * stride;
        const uint8_t* below = source + size_t(y + 1 < height ? y + 1 : y) * stride;
        sharpen_row(above, source + size_t(y) * stride, below, target + size_t(y) * stride, width, amount_q8_);
    }
}

void PostProcess::apply(const uint8_t* source, uint8_t* target, uint8_t* scratch, int count, int height,
                        int width) const {
    const size_t frame = size_t(height) * size_t(width) * 4;
    if (!tone_ && amount_q8_ == 0) {
        std::memcpy(target, source, frame * size_t(count));
        return;
    }
    for (int f = 0; f < count; ++f) {
        const uint8_t* in = source + size_t(f) * frame;
        uint8_t* out = target + size_t(f) * frame;
        uint8_t* toned = amount_q8_ ? scratch : out;
        if (tone_) {
            for (size_t i = 0; i < frame; i += 4) {
                toned[i] = lut_[in[i]];
                toned[i + 1] = lut_[in[i + 1]];
                toned[i + 2] = lut_[in[i + 2]];
                toned[i + 3] = in[i + 3];
            }
            in = toned;
        }
        if (amount_q8_) sharpen(in, out, height, width);
    }
}

}  // namespace vgrt
