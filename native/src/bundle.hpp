// A bundle as the native runtime sees it: manifest.json read into typed fields and checked for
// internal consistency (every graph's tensors agree with the cache layout, frame and latent sizes;
// files exist and stay inside the bundle), plus the default context from context.npz. Checksums
// are the Python loader's job; here every value read is validated so a corrupt bundle gives a
// BUNDLE error naming the file and field.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "npz.hpp"
#include "vidgen_rt.h"

namespace vgrt {

enum class DType { float32, float16, int64, uint8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    DType dtype = DType::float32;

    int64_t count() const;
    size_t bytes() const { return size_t(count()) * dtype_size(dtype); }
};

struct GraphSpec {
    std::string kind;   // "encode", "step", "decode"
    std::string path;   // absolute path of the .onnx file
    std::vector<TensorSpec> inputs, outputs;

    const TensorSpec* input(const std::string& name) const;
    const TensorSpec* output(const std::string& name) const;
};

struct CacheSpec {
    int64_t layers = 0, heads = 0, slots = 0, tokens = 0, head_dim = 0, sentinel = 0;
    DType dtype = DType::float32;
};

struct EngineSpec {
    std::string path;   // absolute path of the TensorRT plan
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
    std::vector<std::string> action_names, action_keys;  // keys comma-joined per action
    int64_t default_action = 0;
    int64_t cond_dim = 0, guide_channels = 0;
    std::map<int, std::map<std::string, GraphSpec>> graphs;  // batch -> kind -> graph
    std::map<std::string, EngineSpec> engines;               // "step-b1" -> plan
    std::string context_file;
    int64_t context_frames = 0;
    vgrt_postprocess postprocess{};

    std::vector<int> batch_sizes() const;
    const GraphSpec& graph(int batch, const std::string& kind) const;
    Context read_context() const;
};

// Reads and checks `directory`/manifest.json; throws vgrt::Error (BUNDLE).
Manifest read_manifest(const std::string& directory);

}  // namespace vgrt
