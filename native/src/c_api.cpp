// The C ABI (vidgen_rt.h) over the C++ core: the library, model and stream calls. Every function body
// runs inside guarded() and reaches objects through the handle registries (c_api_support.hpp); the
// struct defaults, packed bundles and the manifest accessor are in c_api_sdk.cpp.
#include <string>

#include "c_api_support.hpp"
#include "log.hpp"
#include "model.hpp"
#include "philox.hpp"
#include "stream.hpp"
#include "vidgen_rt.h"

namespace vgrt::capi {

std::string& last_error() {
    thread_local std::string text;
    return text;
}

uintptr_t next_handle() {
    static std::atomic<uintptr_t> next{0x10000};
    return next.fetch_add(16);
}

Registry<Model>& models() { static auto* r = new Registry<Model>("model"); return *r; }
Registry<Stream>& streams() { static auto* r = new Registry<Stream>("stream"); return *r; }
Registry<Snapshot>& snapshots() { static auto* r = new Registry<Snapshot>("snapshot"); return *r; }

void check_stamp(const char* name, uint32_t abi_version, uint32_t struct_size, size_t expected_size) {
    if (abi_version == VGRT_ABI_VERSION && struct_size == expected_size) return;
    fail(VGRT_ERROR_ABI_MISMATCH,
         std::string(name) + " comes from a vidgen_rt.h of another ABI (abi_version " + std::to_string(abi_version) +
             ", struct_size " + std::to_string(struct_size) + "; this library is ABI " + std::to_string(VGRT_ABI_VERSION) +
             " with struct_size " + std::to_string(expected_size) +
             "): rebuild the host against this library's vidgen_rt.h and start from its *_default() function");
}

}  // namespace vgrt::capi

namespace {

using namespace vgrt::capi;
using vgrt::fail;
using vgrt::invalid;

template <typename T>
void require_out(T* out, const char* name) {
    if (!out) invalid(std::string(name) + " is NULL");
}

void copy_name(char* target, size_t capacity, const std::string& source) {
    std::strncpy(target, source.c_str(), capacity - 1);
    target[capacity - 1] = '\0';
}

}  // namespace

extern "C" {

VGRT_API const char* vgrt_version(void) { return VGRT_VERSION; }
VGRT_API int vgrt_abi_version(void) { return VGRT_ABI_VERSION; }
VGRT_API const char* vgrt_last_error(void) { return last_error().c_str(); }

VGRT_API const char* vgrt_status_string(int status) {
    switch (status) {
        case VGRT_OK: return "ok";
        case VGRT_ERROR_INVALID_ARGUMENT: return "invalid argument";
        case VGRT_ERROR_INVALID_HANDLE: return "invalid handle";
        case VGRT_ERROR_BUNDLE: return "bad bundle";
        case VGRT_ERROR_BACKEND: return "backend error";
        case VGRT_ERROR_UNSUPPORTED: return "unsupported";
        case VGRT_ERROR_STATE: return "wrong state";
        case VGRT_ERROR_ABI_MISMATCH: return "ABI mismatch";
        case VGRT_ERROR_OUT_OF_MEMORY: return "out of memory";
        case VGRT_ERROR_INTERNAL: return "internal error";
        default: return "unknown status";
    }
}

VGRT_API int vgrt_set_log_callback(vgrt_log_fn callback, void* user_data, int min_level) {
    return guarded([&] {
        if (min_level < VGRT_LOG_DEBUG || min_level > VGRT_LOG_ERROR) invalid("min_level must be 0..3");
        vgrt::set_log_callback(callback, user_data, min_level);
    });
}

VGRT_API int vgrt_noise_bits(uint64_t seed, uint64_t draw, int32_t* out, size_t count) {
    return guarded([&] {
        if (!out && count) invalid("out is NULL");
        vgrt::philox_noise_bits(seed, draw, out, count);
    });
}

VGRT_API int vgrt_bundle_check(const char* bundle_path, int32_t verify_checksums, const char** out_manifest) {
    thread_local std::string t_manifest;
    return guarded([&] {
        if (out_manifest) *out_manifest = nullptr;
        if (!bundle_path) invalid("bundle_path is NULL");
        if (verify_checksums != 0 && verify_checksums != 1)
            invalid("verify_checksums = " + std::to_string(verify_checksums) + ": expected 0 or 1");
        vgrt::Bundle bundle = vgrt::read_bundle(bundle_path, verify_checksums != 0);
        if (!out_manifest) return;
        t_manifest = std::move(bundle.text);
        *out_manifest = t_manifest.c_str();
    });
}

VGRT_API int vgrt_model_create(const char* bundle_path, const vgrt_model_options* options, vgrt_model** out_model) {
    return guarded([&] {
        require_out(out_model, "out_model");
        *out_model = nullptr;
        if (!bundle_path) invalid("bundle_path is NULL");
        auto model = std::make_shared<vgrt::Model>(bundle_path, resolve_model_options(options));
        *out_model = reinterpret_cast<vgrt_model*>(models().add(std::move(model)));
    });
}

VGRT_API int vgrt_model_destroy(vgrt_model* model) {
    return guarded([&] { models().remove(model); });
}

VGRT_API int vgrt_model_get_info(const vgrt_model* handle, vgrt_model_info* out) {
    return guarded([&] {
        auto model = models().get(handle);
        check_struct(out, "out_info");
        const vgrt::Manifest& m = model->manifest();
        copy_name(out->name, sizeof out->name, m.name);
        copy_name(out->precision, sizeof out->precision, m.precision);
        copy_name(out->backend, sizeof out->backend, model->backend().name());
        out->height = int32_t(m.height);
        out->width = int32_t(m.width);
        out->action_count = int32_t(m.action_names.size());
        out->default_action = int32_t(m.default_action);
        out->cond_dim = int32_t(m.cond_dim);
        out->guide_channels = int32_t(m.guide_channels);
        out->context_frames = int32_t(model->context().count);
        out->window = int32_t(m.cache.cache_slots + 1);
        std::vector<int> sizes = m.batch_sizes();
        out->batch_size_count = int32_t(std::min<size_t>(sizes.size(), VGRT_MAX_BATCH_SIZES));
        for (int32_t i = 0; i < out->batch_size_count; ++i) out->batch_sizes[i] = sizes[size_t(i)];
        out->postprocess = m.postprocess;
        copy_name(out->head, sizeof out->head, m.head.kind);
        out->sampling_steps = int32_t(m.head.sampling_steps);
        out->max_sampling_steps = int32_t(m.head.max_sampling_steps);
    });
}

VGRT_API int vgrt_model_get_action(const vgrt_model* handle, int32_t index, const char** out_name, const char** out_keys) {
    return guarded([&] {
        auto model = models().get(handle);
        const vgrt::Manifest& m = model->manifest();
        if (index < 0 || size_t(index) >= m.action_names.size())
            invalid("action index " + std::to_string(index) + " out of range 0.." + std::to_string(m.action_names.size() - 1));
        if (out_name) *out_name = m.action_names[size_t(index)].c_str();
        if (out_keys) *out_keys = m.action_keys[size_t(index)].c_str();
    });
}

VGRT_API int vgrt_model_get_backend_library(const vgrt_model* handle, const char** out_path) {
    return guarded([&] {
        auto model = models().get(handle);
        require_out(out_path, "out_path");
        *out_path = model->backend_library().c_str();
    });
}

VGRT_API int vgrt_stream_open(vgrt_model* handle, const vgrt_stream_options* options, vgrt_stream** out_stream) {
    return guarded([&] {
        require_out(out_stream, "out_stream");
        *out_stream = nullptr;
        auto model = models().get(handle);
        vgrt_stream_options resolved;
        vgrt_stream_options_init(&resolved, VGRT_ABI_VERSION, sizeof resolved);
        if (options) {
            check_struct(options, "options");
            resolved = *options;
        }
        if (resolved.batch < 1) invalid("options.batch = " + std::to_string(resolved.batch) + ": expected >= 1");
        const vgrt::Sampling sampling{resolved.seed, resolved.temperature, resolved.sampling_steps};
        auto stream = std::make_shared<vgrt::Stream>(model, resolved.batch, resolved.context, sampling);
        *out_stream = reinterpret_cast<vgrt_stream*>(streams().add(std::move(stream)));
    });
}

VGRT_API int vgrt_stream_close(vgrt_stream* handle) {
    return guarded([&] { streams().remove(handle)->stop(); });
}

VGRT_API int vgrt_stream_reset(vgrt_stream* handle, const vgrt_context* context) {
    return guarded([&] { streams().get(handle)->reset(context); });
}

VGRT_API int vgrt_stream_step(vgrt_stream* handle, const int64_t* actions, size_t action_count,
                              const vgrt_conditions* conditions, uint8_t* rgba, size_t rgba_size) {
    return guarded([&] { streams().get(handle)->step(actions, action_count, conditions, rgba, rgba_size); });
}

VGRT_API int vgrt_stream_step_acquire(vgrt_stream* handle, const int64_t* actions, size_t action_count,
                                      const vgrt_conditions* conditions, const vgrt_frame** out_frame) {
    return guarded([&] {
        require_out(out_frame, "out_frame");
        *out_frame = nullptr;
        vgrt::FrameSlot* slot = streams().get(handle)->step_acquire(actions, action_count, conditions);
        vgrt::register_user_frame(slot);
        *out_frame = &slot->frame;
    });
}

VGRT_API int vgrt_frame_release(const vgrt_frame* frame) {
    return guarded([&] {
        if (!frame) fail(VGRT_ERROR_INVALID_HANDLE, "frame is NULL");
        if (!vgrt::release_user_frame(frame))
            fail(VGRT_ERROR_INVALID_HANDLE, "frame is not held (released already, or not from vgrt_)");
    });
}

VGRT_API int vgrt_stream_start(vgrt_stream* handle, double fps) {
    return guarded([&] { streams().get(handle)->start(fps); });
}

VGRT_API int vgrt_stream_stop(vgrt_stream* handle) {
    return guarded([&] { streams().get(handle)->stop(); });
}

VGRT_API int vgrt_stream_is_running(const vgrt_stream* handle, int* out_running) {
    return guarded([&] {
        auto stream = streams().get(handle);
        require_out(out_running, "out_running");
        *out_running = stream->running() ? 1 : 0;
    });
}

VGRT_API int vgrt_stream_push_action(vgrt_stream* handle, const int64_t* actions, size_t action_count) {
    return guarded([&] { streams().get(handle)->push_action(actions, action_count); });
}

VGRT_API int vgrt_stream_set_conditions(vgrt_stream* handle, const vgrt_conditions* conditions) {
    return guarded([&] { streams().get(handle)->set_conditions(conditions); });
}

VGRT_API int vgrt_stream_acquire_latest(vgrt_stream* handle, const vgrt_frame** out_frame) {
    return guarded([&] {
        require_out(out_frame, "out_frame");
        *out_frame = nullptr;
        vgrt::FrameSlot* slot = streams().get(handle)->acquire_latest();
        if (!slot) return;
        vgrt::register_user_frame(slot);
        *out_frame = &slot->frame;
    });
}

VGRT_API int vgrt_stream_wait_frame(vgrt_stream* handle, int32_t timeout_ms, const vgrt_frame** out_frame) {
    return guarded([&] {
        require_out(out_frame, "out_frame");
        *out_frame = nullptr;
        vgrt::FrameSlot* slot = streams().get(handle)->wait_frame(timeout_ms);
        if (!slot) return;
        vgrt::register_user_frame(slot);
        *out_frame = &slot->frame;
    });
}

VGRT_API int vgrt_stream_snapshot(vgrt_stream* handle, vgrt_snapshot** out_snapshot) {
    return guarded([&] {
        require_out(out_snapshot, "out_snapshot");
        *out_snapshot = nullptr;
        std::shared_ptr<vgrt::Snapshot> snapshot = streams().get(handle)->snapshot();
        *out_snapshot = reinterpret_cast<vgrt_snapshot*>(snapshots().add(std::move(snapshot)));
    });
}

VGRT_API int vgrt_stream_restore(vgrt_stream* handle, const vgrt_snapshot* snapshot) {
    return guarded([&] {
        auto stream = streams().get(handle);
        stream->restore(*snapshots().get(snapshot));
    });
}

VGRT_API int vgrt_snapshot_destroy(vgrt_snapshot* snapshot) {
    return guarded([&] { snapshots().remove(snapshot); });
}

VGRT_API int vgrt_stream_set_sampling(vgrt_stream* handle, uint64_t seed, float temperature, int32_t sampling_steps) {
    return guarded([&] { streams().get(handle)->set_sampling({seed, temperature, sampling_steps}); });
}

VGRT_API int vgrt_stream_get_sampling(const vgrt_stream* handle, uint64_t* out_seed, float* out_temperature,
                                      int32_t* out_sampling_steps) {
    return guarded([&] {
        const vgrt::Sampling sampling = streams().get(handle)->sampling();
        if (out_seed) *out_seed = sampling.seed;
        if (out_temperature) *out_temperature = sampling.temperature;
        if (out_sampling_steps) *out_sampling_steps = sampling.steps;
    });
}

VGRT_API int vgrt_stream_set_postprocess(vgrt_stream* handle, const vgrt_postprocess* postprocess) {
    return guarded([&] {
        auto stream = streams().get(handle);
        check_struct(postprocess, "postprocess");
        stream->set_postprocess(*postprocess);
    });
}

VGRT_API int vgrt_stream_get_postprocess(const vgrt_stream* handle, vgrt_postprocess* out) {
    return guarded([&] {
        auto stream = streams().get(handle);
        check_struct(out, "out");
        *out = stream->postprocess();
    });
}

VGRT_API int vgrt_stream_get_stats(const vgrt_stream* handle, vgrt_stats* out) {
    return guarded([&] {
        auto stream = streams().get(handle);
        check_struct(out, "out_stats");
        stream->stats(*out);
    });
}

VGRT_API int vgrt_stream_get_batch(const vgrt_stream* handle, int32_t* out_batch) {
    return guarded([&] {
        auto stream = streams().get(handle);
        require_out(out_batch, "out_batch");
        *out_batch = stream->batch();
    });
}

}  // extern "C"
