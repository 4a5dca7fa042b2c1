// A loaded bundle: its manifest, its default context and one backend. The graphs of a batch size
// are loaded the first time a stream of that size opens (the smallest at once, so a bad bundle
// fails at creation) and shared by every stream of that size; a backend runs concurrent streams.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>

#include "backend.hpp"
#include "bundle.hpp"

namespace vgrt {

struct GraphSet {
    std::shared_ptr<Graph> encode, step, decode;
    std::shared_ptr<Graph> noise, sample;  // a flow head's (manifest head.kind), else empty
    std::map<int64_t, std::shared_ptr<Graph>> fused_sample;  // K -> sample_k{K} (head.fused_sampling_steps)
};

class Model {
public:
    // Validates the bundle (read_bundle; checksums unless options.verify_checksums == 0) first.
    Model(const std::string& path, const vgrt_model_options& options);
    // The same for a packed bundle; the model keeps `pack`, its graphs load from it.
    Model(std::shared_ptr<const std::vector<uint8_t>> pack, const vgrt_model_options& options);

    const Manifest& manifest() const { return manifest_; }
    const std::string& manifest_text() const { return manifest_text_; }  // manifest.json as validated
    const Context& context() const { return context_; }
    const Backend& backend() const { return *backend_; }
    const std::string& backend_library() const { return backend_library_; }
    GraphSet graphs(int batch);  // throws UNSUPPORTED for a batch size the bundle lacks

private:
    Model(Bundle bundle, const vgrt_model_options& options);

    Manifest manifest_;
    std::string manifest_text_;
    Context context_;
    std::unique_ptr<Backend> backend_;
    std::string backend_library_;
    std::mutex mutex_;
    std::map<int, GraphSet> graphs_;
};

}  // namespace vgrt
