// manifest.json and context.npz for the native runtime (see bundle.hpp).
#include "bundle.hpp"

#include <sys/stat.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "errors.hpp"
#include "half.hpp"
#include "json.hpp"

namespace vgrt {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxTensorBytes = int64_t(16) << 30;

class Fields {
public:
    explicit Fields(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const std::string& field, const std::string& expected) const {
        bundle_error(file_ + ": field '" + field + "': expected " + expected);
    }

    const json::Value& get(const json::Value& object, const std::string& key, const std::string& where) const {
        const json::Value* value = object.find(key);
        if (!value) fail(where.empty() ? key : where + "." + key, "present");
        return *value;
    }

    const json::Value& object(const json::Value& parent, const std::string& key, const std::string& where) const {
        const json::Value& value = get(parent, key, where);
        if (!value.is_object()) fail(join(where, key), "an object");
        return value;
    }

    int64_t integer(const json::Value& value, const std::string& field, int64_t lo, int64_t hi) const {
        if (!value.is_number() || value.number() != std::floor(value.number()) || value.number() < double(lo) ||
            value.number() > double(hi))
            fail(field, "an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
        return int64_t(value.number());
    }

    int64_t integer(const json::Value& parent, const std::string& key, const std::string& where, int64_t lo,
                    int64_t hi) const {
        return integer(get(parent, key, where), join(where, key), lo, hi);
    }

    std::string string(const json::Value& parent, const std::string& key, const std::string& where) const {
        const json::Value& value = get(parent, key, where);
        if (!value.is_string()) fail(join(where, key), "a string");
        return value.string();
    }

    DType dtype(const json::Value& parent, const std::string& key, const std::string& where) const {
        std::string name = string(parent, key, where);
        if (name == "float32") return DType::float32;
        if (name == "float16") return DType::float16;
        if (name == "int64") return DType::int64;
        if (name == "uint8") return DType::uint8;
        fail(join(where, key), "one of float32, float16, int64, uint8 (got \"" + name + "\")");
    }

    static std::string join(const std::string& where, const std::string& key) {
        return where.empty() ? key : where + "." + key;
    }

    const std::string& file() const { return file_; }

private:
    std::string file_;
};

std::string read_text(const std::string& path) {
    struct stat info;
    if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) bundle_error(path + ": not a bundle (no manifest.json)");
    if (info.st_size > (16 << 20)) bundle_error(path + ": larger than 16 MiB, not a manifest");
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) bundle_error(path + ": unreadable");
    return text.str();
}

std::string real_path(const std::string& path) {
    char* resolved = realpath(path.c_str(), nullptr);
    if (!resolved) return {};
    std::string out(resolved);
    std::free(resolved);
    return out;
}

// The absolute path of `name` inside the bundle, refusing absolute paths, '..' and symlinks out.
std::string inside(const Fields& f, const std::string& root, const std::string& name, const std::string& field,
                   bool must_exist) {
    if (name.empty() || name[0] == '/' || name == ".." || name.find("../") != std::string::npos ||
        (name.size() >= 3 && name.compare(name.size() - 3, 3, "/..") == 0))
        f.fail(field, "a file name inside the bundle directory (got \"" + name + "\")");
    std::string path = root + "/" + name;
    if (!must_exist) return path;
    struct stat info;
    if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
        bundle_error(f.file() + ": field '" + field + "': file \"" + name + "\" is missing");
    std::string resolved = real_path(path);
    if (resolved.compare(0, root.size() + 1, root + "/") != 0)
        f.fail(field, "a file inside the bundle directory (\"" + name + "\" leads outside)");
    return resolved;
}

TensorSpec tensor(const Fields& f, const json::Value& io, const std::string& where) {
    if (!io.is_object()) f.fail(where, "an object with name, shape, dtype");
    TensorSpec spec;
    spec.name = f.string(io, "name", where);
    spec.dtype = f.dtype(io, "dtype", where);
    const json::Value& shape = f.get(io, "shape", where);
    if (!shape.is_array() || shape.array().empty() || shape.array().size() > 8)
        f.fail(where + ".shape", "a list of 1 to 8 dimensions");
    int64_t count = 1;
    for (const json::Value& dim : shape.array()) {
        spec.shape.push_back(f.integer(dim, where + ".shape", 1, kMaxDim));
        count *= spec.shape.back();
        if (count * int64_t(dtype_size(spec.dtype)) > kMaxTensorBytes) f.fail(where + ".shape", "under 16 GiB");
    }
    return spec;
}

std::string describe(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

// A graph's tensor `name` must exist with exactly `shape` and `dtype`.
void require(const Fields& f, const GraphSpec& graph, bool input, const std::string& name,
             const std::vector<int64_t>& shape, DType dtype, const std::string& where) {
    const TensorSpec* spec = input ? graph.input(name) : graph.output(name);
    std::string field = where + (input ? ".inputs" : ".outputs");
    if (!spec) f.fail(field, "a tensor named \"" + name + "\"");
    if (spec->shape != shape || spec->dtype != dtype)
        f.fail(field, "\"" + name + "\" of shape " + describe(shape) + " " + dtype_name(dtype) + " (it says " +
                          describe(spec->shape) + " " + dtype_name(spec->dtype) + ")");
}

void check_graphs(const Fields& f, const Manifest& m, int b, const std::map<std::string, GraphSpec>& graphs) {
    const std::string where = "graphs." + std::to_string(b);
    const std::vector<int64_t> latents{b, m.latent_channels, m.latent_height, m.latent_width};
    const CacheSpec& c = m.cache;
    const GraphSpec& encode = graphs.at("encode");
    require(f, encode, true, "frames", {b, m.height, m.width, 3}, DType::uint8, where + ".encode");
    require(f, encode, false, "latents", latents, m.latent_dtype, where + ".encode");
    const GraphSpec& step = graphs.at("step");
    size_t expected_inputs = 4 + (m.cond_dim > 0) + (m.guide_channels > 0);
    if (step.inputs.size() != expected_inputs || step.outputs.size() != 2)
        f.fail(where + ".step", std::to_string(expected_inputs) + " inputs and 2 outputs");
    require(f, step, true, "latents", latents, m.latent_dtype, where + ".step");
    require(f, step, true, "action", {b}, DType::int64, where + ".step");
    if (m.cond_dim) require(f, step, true, "cond", {b, m.cond_dim}, m.latent_dtype, where + ".step");
    if (m.guide_channels)
        require(f, step, true, "guide", {b, m.guide_channels, m.height, m.width}, m.latent_dtype, where + ".step");
    require(f, step, true, "kv_cache", {c.layers, 2, b, c.heads, c.slots, c.tokens, c.head_dim}, c.dtype, where + ".step");
    require(f, step, true, "lags", {c.slots}, DType::int64, where + ".step");
    require(f, step, false, "next_latents", latents, m.latent_dtype, where + ".step");
    require(f, step, false, "new_kv", {c.layers, 2, b, c.heads, c.tokens, c.head_dim}, c.dtype, where + ".step");
    const GraphSpec& decode = graphs.at("decode");
    require(f, decode, true, "latents", latents, m.latent_dtype, where + ".decode");
    require(f, decode, false, "frames", {b, m.height, m.width, 4}, DType::uint8, where + ".decode");
    if (encode.inputs.size() != 1 || encode.outputs.size() != 1 || decode.inputs.size() != 1 || decode.outputs.size() != 1)
        f.fail(where, "encode and decode graphs with one input and one output");
}

void read_actions(const Fields& f, const json::Value& root, Manifest& m) {
    const json::Value& actions = f.object(root, "actions", "");
    const json::Value& names = f.get(actions, "names", "actions");
    if (!names.is_array() || names.array().empty() || names.array().size() > 65536)
        f.fail("actions.names", "a non-empty list of strings");
    const json::Value* bindings = actions.find("key_bindings");
    for (const json::Value& name : names.array()) {
        if (!name.is_string()) f.fail("actions.names", "a non-empty list of strings");
        m.action_names.push_back(name.string());
        std::string keys;
        const json::Value* bound = bindings ? bindings->find(name.string()) : nullptr;
        if (bound && bound->is_array())
            for (const json::Value& key : bound->array())
                if (key.is_string()) keys += (keys.empty() ? "" : ",") + key.string();
        m.action_keys.push_back(keys);
    }
    const json::Value* fallback = actions.find("default");
    if (fallback) m.default_action = f.integer(*fallback, "actions.default", 0, int64_t(m.action_names.size()) - 1);
}

void read_conditions(const Fields& f, const json::Value& root, Manifest& m) {
    const json::Value& conditions = f.get(root, "conditions", "");
    if (conditions.is_null()) return;
    if (!conditions.is_object()) f.fail("conditions", "an object or null");
    const json::Value* cond = conditions.find("cond");
    if (cond && !cond->is_null()) m.cond_dim = f.integer(*cond, "dim", "conditions.cond", 1, 65536);
    const json::Value* guide = conditions.find("guide");
    if (guide && !guide->is_null()) {
        m.guide_channels = f.integer(*guide, "channels", "conditions.guide", 1, 256);
        if (f.integer(*guide, "height", "conditions.guide", 1, kMaxDim) != m.height ||
            f.integer(*guide, "width", "conditions.guide", 1, kMaxDim) != m.width)
            f.fail("conditions.guide", "the frame's height and width");
    }
}

void read_postprocess(const Fields& f, const json::Value& root, Manifest& m) {
    m.postprocess = vgrt_postprocess_default();
    const json::Value* post = root.find("postprocess");
    if (!post) return;
    if (!post->is_object()) f.fail("postprocess", "an object");
    auto number = [&](const char* key, float& out) {
        const json::Value* value = post->find(key);
        if (!value) return;
        if (!value->is_number()) f.fail(std::string("postprocess.") + key, "a number");
        out = float(value->number());
    };
    number("brightness", m.postprocess.brightness);
    number("contrast", m.postprocess.contrast);
    number("gamma", m.postprocess.gamma);
    number("sharpen", m.postprocess.sharpen);
}

void read_graphs(const Fields& f, const json::Value& root, Manifest& m) {
    const json::Value& graphs = f.object(root, "graphs", "");
    if (graphs.object().empty()) f.fail("graphs", "at least one batch size");
    for (const auto& [key, entry] : graphs.object()) {
        const std::string where = "graphs." + key;
        if (key.empty() || key.size() > 4 || key.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(key) < 1)
            f.fail(where, "a positive batch size as key");
        int batch = std::stoi(key);
        if (!entry.is_object() || entry.object().size() != 3) f.fail(where, "exactly the graphs encode, step, decode");
        for (const char* kind : {"encode", "step", "decode"}) {
            const json::Value& spec = f.object(entry, kind, where);
            GraphSpec graph;
            graph.kind = kind;
            std::string field = where + "." + kind;
            graph.path = inside(f, m.directory, f.string(spec, "file", field), field + ".file", true);
            for (const char* io : {"inputs", "outputs"}) {
                const json::Value& list = f.get(spec, io, field);
                if (!list.is_array()) f.fail(field + "." + io, "a list");
                for (const json::Value& item : list.array())
                    (io[0] == 'i' ? graph.inputs : graph.outputs).push_back(tensor(f, item, field + "." + io));
            }
            m.graphs[batch][kind] = std::move(graph);
        }
        check_graphs(f, m, batch, m.graphs[batch]);
    }
}

}  // namespace

size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::float32: return 4;
        case DType::float16: return 2;
        case DType::int64: return 8;
        case DType::uint8: return 1;
    }
    return 0;
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::float32: return "float32";
        case DType::float16: return "float16";
        case DType::int64: return "int64";
        case DType::uint8: return "uint8";
    }
    return "?";
}

int64_t TensorSpec::count() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

const TensorSpec* GraphSpec::input(const std::string& name) const {
    for (const TensorSpec& t : inputs) if (t.name == name) return &t;
    return nullptr;
}

const TensorSpec* GraphSpec::output(const std::string& name) const {
    for (const TensorSpec& t : outputs) if (t.name == name) return &t;
    return nullptr;
}

std::vector<int> Manifest::batch_sizes() const {
    std::vector<int> out;
    for (const auto& entry : graphs) out.push_back(entry.first);
    return out;
}

const GraphSpec& Manifest::graph(int batch, const std::string& kind) const {
    auto it = graphs.find(batch);
    if (it == graphs.end()) {
        std::string sizes;
        for (int b : batch_sizes()) sizes += (sizes.empty() ? "" : ", ") + std::to_string(b);
        fail(VGRT_ERROR_UNSUPPORTED, directory + ": no graphs for batch " + std::to_string(batch) +
                                         "; exported batch sizes: " + sizes);
    }
    return it->second.at(kind);
}

Manifest read_manifest(const std::string& directory) {
    struct stat info;
    if (directory.empty() || stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
        bundle_error(directory + ": no such bundle directory");
    Manifest m;
    m.directory = real_path(directory);
    const std::string file = m.directory + "/manifest.json";
    Fields f(file);
    const std::string text = read_text(file);
    json::Value root = json::Value::make_null();
    try {
        root = json::parse(text);
    } catch (const std::exception& error) {
        bundle_error(file + ": not valid JSON (" + error.what() + ")");
    }
    if (!root.is_object()) f.fail("(top level)", "a JSON object");
    if (f.string(root, "format", "") != "vidgen_rt.bundle") f.fail("format", "\"vidgen_rt.bundle\"");
    f.integer(root, "format_version", "", 1, 1);
    const json::Value* name = root.find("name");
    m.name = name && name->is_string() ? name->string() : "";
    m.precision = f.string(root, "precision", "");
    const json::Value& frame = f.object(root, "frame", "");
    m.height = f.integer(frame, "height", "frame", 1, 16384);
    m.width = f.integer(frame, "width", "frame", 1, 16384);
    const json::Value& latent = f.object(root, "latent", "");
    m.latent_channels = f.integer(latent, "channels", "latent", 1, 65536);
    m.latent_height = f.integer(latent, "height", "latent", 1, 16384);
    m.latent_width = f.integer(latent, "width", "latent", 1, 16384);
    m.latent_dtype = f.dtype(latent, "dtype", "latent");
    const json::Value& cache = f.object(root, "cache", "");
    m.cache.layers = f.integer(cache, "layers", "cache", 1, 1024);
    m.cache.heads = f.integer(cache, "heads", "cache", 1, 1024);
    m.cache.slots = f.integer(cache, "slots", "cache", 1, 4096);
    m.cache.tokens = f.integer(cache, "tokens_per_frame", "cache", 1, kMaxDim);
    m.cache.head_dim = f.integer(cache, "head_dim", "cache", 1, 65536);
    m.cache.sentinel = f.integer(cache, "lag_sentinel", "cache", m.cache.slots + 1, INT32_MAX);
    m.cache.dtype = f.dtype(cache, "dtype", "cache");
    if (f.integer(cache, "first_slot", "cache", 0, 0) != 0) f.fail("cache.first_slot", "0");
    read_actions(f, root, m);
    read_conditions(f, root, m);
    read_postprocess(f, root, m);
    read_graphs(f, root, m);
    const json::Value& context = f.object(root, "context", "");
    m.context_file = inside(f, m.directory, f.string(context, "file", "context"), "context.file", true);
    m.context_frames = f.integer(context, "frames", "context", 1, 1 << 20);
    const json::Value* engines = root.find("engines");
    if (engines && engines->is_object())
        for (const auto& [key, engine] : engines->object())
            if (engine.is_object() && engine.find("file") && engine.find("file")->is_string())
                m.engines[key].path = inside(f, m.directory, engine.find("file")->string(), "engines." + key + ".file", false);
    return m;
}

Context Manifest::read_context() const {
    auto arrays = read_npz(context_file);
    Context context;
    auto frames = arrays.find("frames");
    if (frames == arrays.end() || frames->second.dtype != "u1" ||
        frames->second.shape != std::vector<int64_t>{context_frames, height, width, 3})
        bundle_error(context_file + ": 'frames' must be uint8 " + describe({context_frames, height, width, 3}));
    context.count = context_frames;
    context.frames = std::move(frames->second.data);
    auto actions = arrays.find("actions");
    if (actions == arrays.end() || actions->second.dtype != "i8" ||
        actions->second.shape != std::vector<int64_t>{context_frames - 1})
        bundle_error(context_file + ": 'actions' must be int64 [" + std::to_string(context_frames - 1) + "]");
    context.actions.resize(size_t(context_frames - 1));
    std::memcpy(context.actions.data(), actions->second.data.data(), context.actions.size() * 8);
    for (int64_t a : context.actions)
        if (a < 0 || a >= int64_t(action_names.size()))
            bundle_error(context_file + ": action " + std::to_string(a) + " out of range 0.." +
                         std::to_string(action_names.size() - 1));
    auto floats = [&](const char* key, int64_t per_frame, std::vector<float>& out) {
        if (per_frame == 0) return;
        auto it = arrays.find(key);
        if (it == arrays.end()) return;  // the caller must pass them instead
        const NpyArray& a = it->second;
        if (a.count() != (context_frames - 1) * per_frame || (a.dtype != "f4" && a.dtype != "f2"))
            bundle_error(context_file + ": '" + key + "' must be float with " +
                         std::to_string((context_frames - 1) * per_frame) + " values");
        out.resize(size_t(a.count()));
        if (a.dtype == "f4") {
            std::memcpy(out.data(), a.data.data(), out.size() * 4);
        } else {
            for (size_t i = 0; i < out.size(); ++i) {
                uint16_t h = uint16_t(a.data[2 * i] | (a.data[2 * i + 1] << 8));
                out[i] = half_to_float(h);
            }
        }
    };
    floats("cond", cond_dim, context.cond);
    floats("guide", guide_channels * height * width, context.guide);
    return context;
}

}  // namespace vgrt
