// A bundle as the native runtime sees it, and the one validator that decides whether a bundle is
// acceptable (docs/architecture.md §4, §9). `read_bundle` reads manifest.json once, checks every
// field against the model config it carries and the cache layout, every listed file (a regular
// file inside the bundle, sha256 unless the caller opts out, nothing unlisted beside it), each
// graph's ONNX signature against the manifest, and the default context's raw tensors. The files
// come from a bundle directory or a packed bundle in memory (bundle_source.hpp); the rules are the
// same for both. Python's load_bundle reads the manifest text this validator accepted
// (vgrt_bundle_check, vgrt_bundle_check_memory).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidgen_rt.h"

namespace vgrt {

enum class DType { float32, float16, int64, int32, uint8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
std::string describe_shape(const std::vector<int64_t>& shape);  // "[1, 8, 4, 4]"

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    DType dtype = DType::float32;

    int64_t count() const;
    size_t bytes() const { return size_t(count()) * dtype_size(dtype); }
};

struct GraphSpec {
    std::string kind;   // "encode", "step", "decode" [, "noise", "sample", "sample_k{K}" for a flow head]
    std::string file;   // as the manifest names it
    std::string path;   // absolute path of the .onnx file once validated ("[packed bundle]/NAME" in a pack)
    struct {
        const uint8_t* data = nullptr;  // a packed bundle's graph bytes (Manifest::storage); else null
        size_t size = 0;
    } bytes;
    std::vector<TensorSpec> inputs, outputs;

    const TensorSpec* input(const std::string& name) const;
    const TensorSpec* output(const std::string& name) const;
};

// The KV ring's layout: [n_layers, kv, batch, n_heads, cache_slots, tokens_per_frame, head_dim].
struct CacheSpec {
    int64_t n_layers = 0, n_heads = 0, cache_slots = 0, tokens_per_frame = 0, head_dim = 0, lag_sentinel = 0;
    DType dtype = DType::float32;
};

struct EngineSpec {
    std::string file;   // as the manifest names it
    std::string path;   // absolute path of the TensorRT plan, once validated
};

// One raw little-endian tensor of the default context (manifest context.tensors.NAME).
struct ContextTensorSpec {
    TensorSpec tensor;
    std::string file, path;
};

// The sampling head (manifest "head", docs/architecture.md §4). "mse": step.onnx outputs the next
// latents. A flow kind ("flow_mlp", "flow_conv"): step.onnx outputs head_cond, noise.onnx turns
// Philox bits into Gaussian noise and sample.onnx takes sampling_steps Euler steps from it; for each
// K of fused_sampling_steps, sample_k{K}.onnx does both in one call.
struct HeadSpec {
    std::string kind = "mse";
    int64_t sampling_steps = 1, max_sampling_steps = 1;
    int64_t features = 0;  // D of head_cond [B, N, D]: config.model.d_model
    std::vector<int64_t> fused_sampling_steps;  // increasing, each in 1..max_sampling_steps; may be empty

    bool flow() const { return kind != "mse"; }
    static std::string fused_kind(int64_t steps) { return "sample_k" + std::to_string(steps); }
    // The graphs every batch size carries for this head, in load order.
    std::vector<std::string> graph_kinds() const;
};

// Every file the manifest names, with the field that names it and its recorded sha256.
struct ListedFile {
    std::string name, field, sha256;
};

struct Context {
    int64_t count = 0;                  // K frames
    std::vector<uint8_t> frames;        // [K, H, W, 3]
    std::vector<int64_t> actions;       // [K-1]
    std::vector<float> cond;            // [K-1, Dc] or empty
    std::vector<float> guide;           // [K-1, G, H, W] or empty
};

struct Manifest {
    std::string directory, name, precision;
    int64_t height = 0, width = 0;
    int64_t latent_channels = 0, latent_height = 0, latent_width = 0;
    DType latent_dtype = DType::float32;
    CacheSpec cache;
    HeadSpec head;
    std::vector<std::string> action_names, action_keys;  // keys comma-joined per action
    int64_t default_action = 0;
    int64_t cond_dim = 0, guide_channels = 0;
    float guide_min = 0.0f, guide_max = 0.0f;            // conditions.guide.range
    std::map<int, std::map<std::string, GraphSpec>> graphs;  // batch -> kind -> graph
    std::map<std::string, EngineSpec> engines;               // "step-b1" -> plan
    std::map<std::string, ContextTensorSpec> context;        // "frames", "actions" [, "cond", "guide"]
    std::vector<ListedFile> files;
    vgrt_postprocess postprocess{};
    bool packed = false;  // read from a packed bundle: graphs load from GraphSpec::bytes
    std::shared_ptr<const std::vector<uint8_t>> storage;  // a model's copy of its packed bundle

    std::vector<int> batch_sizes() const;
    const GraphSpec& graph(int batch, const std::string& kind) const;
};

// Parses manifest.json's text (`file` names it in errors) into a Manifest and checks its fields
// against each other and the model config; touches no file. `directory` is the bundle's real path.
Manifest parse_manifest(const std::string& directory, const std::string& file, const std::string& text);

struct Bundle {
    Manifest manifest;
    Context context;
    std::string text;  // manifest.json exactly as read and validated
};

// The whole validator (see the top of this file) on a bundle directory; throws vgrt::Error (BUNDLE).
Bundle read_bundle(const std::string& directory, bool verify_checksums);
// The same on a packed bundle (NAME.vgrtpack) of `size` bytes at `data`, read during the call only.
Bundle read_packed_bundle(const uint8_t* data, size_t size, bool verify_checksums);
// The same, keeping `pack` in the manifest's storage so its graphs can load from it later.
Bundle read_packed_bundle(std::shared_ptr<const std::vector<uint8_t>> pack, bool verify_checksums);

// The index of the first value outside [lo, hi] (NaN included), or `count` when all are inside.
size_t first_outside(const float* values, size_t count, float lo, float hi);

}  // namespace vgrt
