// Post-processing of RGBA uint8 frames (the seed's brightness / contrast / deblur step):
// brightness, contrast and gamma fold into one 256-entry lookup table; sharpening is an unsharp
// mask over a 3x3 binomial blur in fixed point. Alpha passes through. With every parameter at its
// neutral value the frame is copied unchanged, so default output stays bit-identical to the graph's.
#pragma once

#include <cstdint>

#include "vidgen_rt.h"

namespace vgrt {

class PostProcess {
public:
    PostProcess();

    // Checks ranges (brightness in [-1, 1], contrast in [0, 16], gamma in (0, 16], sharpen in
    // [0, 16], all finite); throws INVALID_ARGUMENT naming the field.
    void set(const vgrt_postprocess& params);
    const vgrt_postprocess& params() const { return params_; }

    // `count` frames of height x width RGBA from `source` into `target` (distinct buffers);
    // `scratch` holds one frame when both tone and sharpening are on.
    void apply(const uint8_t* source, uint8_t* target, uint8_t* scratch, int count, int height, int width) const;

private:
    void sharpen(const uint8_t* source, uint8_t* target, int height, int width) const;

    vgrt_postprocess params_;
    bool tone_ = false;
    int32_t amount_q8_ = 0;  // sharpen * 256
    uint8_t lut_[256];
};

}  // namespace vgrt
