// vidgen_rt.hpp: a header-only C++17 wrapper over the C ABI (vidgen_rt.h). Objects own their
// handles (RAII, move-only), failures throw vidgen_rt::Error carrying the status and
// vgrt_last_error(). Nothing here reaches past the C ABI, so a host built with another compiler or
// standard library than libvidgen_rt.so can use it.
//
//     vidgen_rt::Model model("maze.vgrt");   // or Model::open_memory(bytes, size) for a .vgrtpack
//     vidgen_rt::Stream stream(model);
//     std::vector<uint8_t> rgba(stream.frame_bytes());
//     stream.step({1}, rgba.data(), rgba.size());
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vidgen_rt.h"

namespace vidgen_rt {

class Error : public std::runtime_error {
public:
    Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

inline void check(int status) {
    if (status != VGRT_OK) throw Error(status, vgrt_last_error());
}

// Owns a handle and a destroy function; move-only.
template <typename Handle, int (*Destroy)(Handle*)>
class Owned {
public:
    Owned() = default;
    explicit Owned(Handle* handle) : handle_(handle) {}
    ~Owned() { reset(); }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    Owned(Owned&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Owned& operator=(Owned&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Handle* get() const { return handle_; }
    explicit operator bool() const { return handle_ != nullptr; }
    void reset() {
        if (handle_) Destroy(std::exchange(handle_, nullptr));
    }

private:
    Handle* handle_ = nullptr;
};

inline int release_frame(const vgrt_frame* frame) { return vgrt_frame_release(frame); }

// A runtime-owned frame, released when this object goes.
using Frame = Owned<const vgrt_frame, release_frame>;
using Snapshot = Owned<vgrt_snapshot, vgrt_snapshot_destroy>;

// Validates a bundle without loading it (vgrt_bundle_check); returns the manifest text it accepted.
inline std::string check_bundle(const std::string& bundle_path, bool verify_checksums = true) {
    const char* manifest = nullptr;
    check(vgrt_bundle_check(bundle_path.c_str(), verify_checksums ? 1 : 0, &manifest));
    return manifest;
}

// The same for a packed bundle (NAME.vgrtpack) in memory (vgrt_bundle_check_memory).
inline std::string check_bundle_memory(const void* data, size_t size, bool verify_checksums = true) {
    const char* manifest = nullptr;
    check(vgrt_bundle_check_memory(data, size, verify_checksums ? 1 : 0, &manifest));
    return manifest;
}

class Model {
public:
    explicit Model(const std::string& bundle_path, const vgrt_model_options& options = vgrt_model_options_default()) {
        vgrt_model* model = nullptr;
        check(vgrt_model_create(bundle_path.c_str(), &options, &model));
        model_ = Owned<vgrt_model, vgrt_model_destroy>(model);
    }

    // A packed bundle from memory (vgrt_model_open_memory); the bytes may be freed once it returns.
    static Model open_memory(const void* data, size_t size,
                             const vgrt_model_options& options = vgrt_model_options_default()) {
        vgrt_model* model = nullptr;
        check(vgrt_model_open_memory(data, size, &options, &model));
        return Model(model);
    }

    vgrt_model* get() const { return model_.get(); }

    // The manifest.json text the model was validated from.
    std::string manifest() const {
        const char* text = nullptr;
        check(vgrt_model_get_manifest(model_.get(), &text));
        return text;
    }

    vgrt_model_info info() const {
        vgrt_model_info info = vgrt_model_info_default();
        check(vgrt_model_get_info(model_.get(), &info));
        return info;
    }

    std::pair<std::string, std::string> action(int32_t index) const {
        const char* name = nullptr;
        const char* keys = nullptr;
        check(vgrt_model_get_action(model_.get(), index, &name, &keys));
        return {name, keys};
    }

    std::string backend_library() const {
        const char* path = nullptr;
        check(vgrt_model_get_backend_library(model_.get(), &path));
        return path;
    }

private:
    explicit Model(vgrt_model* model) : model_(model) {}

    Owned<vgrt_model, vgrt_model_destroy> model_;
};

class Stream {
public:
    explicit Stream(const Model& model, const vgrt_stream_options& options = vgrt_stream_options_default()) {
        vgrt_stream* stream = nullptr;
        check(vgrt_stream_open(model.get(), &options, &stream));
        stream_ = Owned<vgrt_stream, vgrt_stream_close>(stream);
        info_ = model.info();
        check(vgrt_stream_get_batch(stream_.get(), &batch_));
    }

    vgrt_stream* get() const { return stream_.get(); }
    int32_t batch() const { return batch_; }
    size_t frame_bytes() const { return size_t(batch_) * size_t(info_.height) * size_t(info_.width) * 4; }
    void close() { stream_.reset(); }

    void reset(const vgrt_context* context = nullptr) { check(vgrt_stream_reset(stream_.get(), context)); }

    void step(const std::vector<int64_t>& actions, uint8_t* rgba, size_t size,
              const vgrt_conditions* conditions = nullptr) {
        check(vgrt_stream_step(stream_.get(), actions.data(), actions.size(), conditions, rgba, size));
    }

    Frame step(const int64_t* actions, size_t count, const vgrt_conditions* conditions = nullptr) {
        const vgrt_frame* frame = nullptr;
        check(vgrt_stream_step_acquire(stream_.get(), actions, count, conditions, &frame));
        return Frame(frame);
    }

    void start(double fps = 0.0) { check(vgrt_stream_start(stream_.get(), fps)); }
    void stop() { check(vgrt_stream_stop(stream_.get())); }
    bool running() const {
        int running = 0;
        check(vgrt_stream_is_running(stream_.get(), &running));
        return running != 0;
    }
    void push_action(const int64_t* actions, size_t count) { check(vgrt_stream_push_action(stream_.get(), actions, count)); }
    void set_conditions(const vgrt_conditions& conditions) { check(vgrt_stream_set_conditions(stream_.get(), &conditions)); }

    // The newest frame not yet acquired; an empty Frame when there is none.
    Frame acquire_latest() {
        const vgrt_frame* frame = nullptr;
        check(vgrt_stream_acquire_latest(stream_.get(), &frame));
        return Frame(frame);
    }

    // As acquire_latest, waiting up to timeout_ms while the stream runs asynchronously.
    Frame wait_frame(int32_t timeout_ms) {
        const vgrt_frame* frame = nullptr;
        check(vgrt_stream_wait_frame(stream_.get(), timeout_ms, &frame));
        return Frame(frame);
    }

    Snapshot snapshot() {
        vgrt_snapshot* snapshot = nullptr;
        check(vgrt_stream_snapshot(stream_.get(), &snapshot));
        return Snapshot(snapshot);
    }
    void restore(const Snapshot& snapshot) { check(vgrt_stream_restore(stream_.get(), snapshot.get())); }

    // A flow head's seed, temperature and Euler steps K (0: the bundle's), from the next frame on.
    void set_sampling(uint64_t seed, float temperature, int32_t sampling_steps = 0) {
        check(vgrt_stream_set_sampling(stream_.get(), seed, temperature, sampling_steps));
    }
    struct Sampling {
        uint64_t seed = 0;
        float temperature = 1.0f;
        int32_t sampling_steps = 0;
    };
    Sampling sampling() const {
        Sampling s;
        check(vgrt_stream_get_sampling(stream_.get(), &s.seed, &s.temperature, &s.sampling_steps));
        return s;
    }

    void set_postprocess(const vgrt_postprocess& params) { check(vgrt_stream_set_postprocess(stream_.get(), &params)); }
    vgrt_postprocess postprocess() const {
        vgrt_postprocess params = vgrt_postprocess_default();
        check(vgrt_stream_get_postprocess(stream_.get(), &params));
        return params;
    }
    vgrt_stats stats() const {
        vgrt_stats stats = vgrt_stats_default();
        check(vgrt_stream_get_stats(stream_.get(), &stats));
        return stats;
    }

private:
    Owned<vgrt_stream, vgrt_stream_close> stream_;
    vgrt_model_info info_{};
    int32_t batch_ = 0;
};

}  // namespace vidgen_rt
