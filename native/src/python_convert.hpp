// Conversions between Python objects and the C ABI's types for the pybind11 module
// (python_module.cpp): runtime frames as numpy arrays that own them, latency and post-processing
// figures as dicts, numpy inputs held alive behind a vgrt_context / vgrt_conditions, and a
// bytes-like object's memory pinned for a packed bundle.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>

#include "vidgen_rt.hpp"

namespace vgrt_python {

namespace py = pybind11;

using U8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;
using I64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A runtime frame as a (B, H, W, 4) uint8 array that owns it.
inline py::object frame_array(vidgen_rt::Frame frame) {
    if (!frame) return py::none();
    const vgrt_frame* f = frame.get();
    auto* owner = new vidgen_rt::Frame(std::move(frame));
    py::capsule base(owner, [](void* p) { delete static_cast<vidgen_rt::Frame*>(p); });
    const py::ssize_t h = f->height, w = f->width;
    return py::array_t<uint8_t>({py::ssize_t(f->batch), h, w, py::ssize_t(4)}, {h * w * 4, w * 4, py::ssize_t(4), py::ssize_t(1)},
                                f->rgba, base);
}

inline py::dict latency(const vgrt_latency& l) {
    py::dict d;
    d["mean_ms"] = l.mean_ms;
    d["p50_ms"] = l.p50_ms;
    d["p90_ms"] = l.p90_ms;
    d["p99_ms"] = l.p99_ms;
    d["max_ms"] = l.max_ms;
    return d;
}

inline py::dict postprocess_dict(const vgrt_postprocess& p) {
    py::dict d;
    d["brightness"] = p.brightness;
    d["contrast"] = p.contrast;
    d["gamma"] = p.gamma;
    d["sharpen"] = p.sharpen;
    return d;
}

// Arrays referenced by a vgrt_context / vgrt_conditions stay alive in this holder.
struct Inputs {
    std::optional<U8> frames;
    std::optional<I64> actions;
    std::optional<F32> cond, guide;
    vgrt_context context{};
    vgrt_conditions conditions{};

    void set_conditions(const std::optional<py::object>& c, const std::optional<py::object>& g) {
        if (c && !c->is_none()) {
            cond = F32::ensure(*c);
            if (!cond) throw py::error_already_set();
            conditions.cond = cond->data();
            conditions.cond_count = size_t(cond->size());
        }
        if (g && !g->is_none()) {
            guide = F32::ensure(*g);
            if (!guide) throw py::error_already_set();
            conditions.guide = guide->data();
            conditions.guide_count = size_t(guide->size());
        }
    }

    // frames (K, H, W, 3) for every player or (B, K, H, W, 3) per player.
    const vgrt_context* set_context(const std::optional<py::object>& f, const std::optional<py::object>& a,
                                    const std::optional<py::object>& c, const std::optional<py::object>& g) {
        if (!f || f->is_none()) return nullptr;
        frames = U8::ensure(*f);
        if (!frames) throw py::error_already_set();
        if (frames->ndim() != 4 && frames->ndim() != 5)
            throw py::value_error("frames: expected (K, H, W, 3) or (B, K, H, W, 3) uint8");
        const bool per_player = frames->ndim() == 5;
        context.per_player = per_player ? 1 : 0;
        context.frames = frames->data();
        context.frames_size = size_t(frames->size());
        context.frame_count = size_t(frames->shape(per_player ? 1 : 0));
        if (a && !a->is_none()) {
            actions = I64::ensure(*a);
            if (!actions) throw py::error_already_set();
            context.actions = actions->data();
            context.action_count = size_t(actions->size());
        }
        set_conditions(c, g);
        context.cond = conditions.cond;
        context.cond_count = conditions.cond_count;
        context.guide = conditions.guide;
        context.guide_count = conditions.guide_count;
        return &context;
    }
};

// A bytes-like object's memory, pinned (PyBUF_SIMPLE: contiguous) while this lives.
class BytesView {
public:
    explicit BytesView(const py::object& source) {
        if (PyObject_GetBuffer(source.ptr(), &view_, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    }
    ~BytesView() { PyBuffer_Release(&view_); }
    BytesView(const BytesView&) = delete;
    BytesView& operator=(const BytesView&) = delete;
    const void* data() const { return view_.buf; }
    size_t size() const { return size_t(view_.len); }

private:
    Py_buffer view_{};
};

}  // namespace vgrt_python
