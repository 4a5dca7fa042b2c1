// manifest.json -> Manifest, every field checked against the others and against the model config
// the bundle carries (see bundle.hpp). File contents are bundle_check.cpp's part.
#include "bundle.hpp"

#include <climits>
#include <cmath>
#include <set>

#include "errors.hpp"
#include "json.hpp"

namespace vgrt {
namespace {

constexpr int64_t kFormatVersion = 3;
constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxTensorBytes = int64_t(16) << 30;
constexpr int64_t kMaxBatch = 256;  // export/writer.py MAX_BATCH
const char* const kLayout[] = {"n_layers", "kv", "batch", "n_heads", "cache_slots", "tokens_per_frame", "head_dim"};

class Fields {
public:
    explicit Fields(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const std::string& field, const std::string& expected) const {
        bundle_error(file_ + ": field '" + field + "': expected " + expected);
    }

    const json::Value& get(const json::Value& object, const std::string& key, const std::string& where) const {
        const json::Value* value = object.find(key);
        if (!value) fail(join(where, key), "present");
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
        if (name == "int32") return DType::int32;
        if (name == "uint8") return DType::uint8;
        fail(join(where, key), "one of float32, float16, int64, int32, uint8 (got \"" + name + "\")");
    }

    std::string sha256(const json::Value& parent, const std::string& where) const {
        std::string digest = string(parent, "sha256", where);
        if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos)
            fail(join(where, "sha256"), "64 lowercase hex digits");
        return digest;
    }

    // A config-derived value the manifest must repeat.
    void same(int64_t declared, int64_t expected, const std::string& field, const std::string& source) const {
        if (declared != expected) fail(field, std::to_string(expected) + " (" + source + "), got " + std::to_string(declared));
    }

    static std::string join(const std::string& where, const std::string& key) {
        return where.empty() ? key : where + "." + key;
    }

private:
    std::string file_;
};

std::string json_number(double value) {
    if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(int64_t(value));
    return std::to_string(value);
}

TensorSpec tensor(const Fields& f, const json::Value& io, const std::string& where, bool named) {
    if (!io.is_object()) f.fail(where, "an object with name, shape, dtype");
    TensorSpec spec;
    if (named) spec.name = f.string(io, "name", where);
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

// The model config's fields a manifest must agree with (config.model of the resolved Config).
struct ModelConfig {
    int64_t frame_height, frame_width, downsample, latent_channels, token_patch, d_model, n_layers, n_heads,
        window, n_actions, cond_dim, guide_channels;
    std::string head;
    int64_t sampling_steps;
};

ModelConfig read_config(const Fields& f, const json::Value& root) {
    const json::Value& model = f.object(f.object(root, "config", ""), "model", "config");
    auto get = [&](const char* key, int64_t lo) { return f.integer(model, key, "config.model", lo, kMaxDim); };
    ModelConfig c{get("frame_height", 1), get("frame_width", 1), get("downsample", 1), get("latent_channels", 1),
                  get("token_patch", 1), get("d_model", 1), get("n_layers", 1), get("n_heads", 1), get("window", 2),
                  get("n_actions", 1), get("cond_dim", 0), get("guide_channels", 0),
                  f.string(model, "head", "config.model"), get("sampling_steps", 1)};
    if (c.frame_height % c.downsample || c.frame_width % c.downsample || c.d_model % c.n_heads ||
        (c.frame_height / c.downsample) % c.token_patch || (c.frame_width / c.downsample) % c.token_patch)
        f.fail("config.model", "frame sizes divisible by downsample (and token_patch), d_model by n_heads");
    return c;
}

// A graph's tensor `name` must exist with exactly `shape` and `dtype`.
void require(const Fields& f, const GraphSpec& graph, bool input, const std::string& name,
             const std::vector<int64_t>& shape, DType dtype, const std::string& where) {
    const TensorSpec* spec = input ? graph.input(name) : graph.output(name);
    std::string field = where + (input ? ".inputs" : ".outputs");
    if (!spec) f.fail(field, "a tensor named \"" + name + "\"");
    if (spec->shape != shape || spec->dtype != dtype)
        f.fail(field, "\"" + name + "\" of shape " + describe_shape(shape) + " " + dtype_name(dtype) + " (it says " +
                          describe_shape(spec->shape) + " " + dtype_name(spec->dtype) + ")");
}

void check_graphs(const Fields& f, const Manifest& m, int b, const std::map<std::string, GraphSpec>& graphs) {
    const std::string where = "graphs." + std::to_string(b);
    const std::vector<int64_t> latents{b, m.latent_channels, m.latent_height, m.latent_width};
    const CacheSpec& c = m.cache;
    const GraphSpec& encode = graphs.at("encode");
    require(f, encode, true, "frames", {b, m.height, m.width, 3}, DType::uint8, where + ".encode");
    require(f, encode, false, "latents", latents, m.latent_dtype, where + ".encode");
    const GraphSpec& step = graphs.at("step");
    size_t expected_inputs = 3 + 2 * size_t(c.n_layers) + (m.cond_dim > 0) + (m.guide_channels > 0);
    if (step.inputs.size() != expected_inputs || step.outputs.size() != 2)
        f.fail(where + ".step", std::to_string(expected_inputs) + " inputs and 2 outputs");
    require(f, step, true, "latents", latents, m.latent_dtype, where + ".step");
    require(f, step, true, "action", {b}, DType::int64, where + ".step");
    if (m.cond_dim) require(f, step, true, "cond", {b, m.cond_dim}, m.latent_dtype, where + ".step");
    if (m.guide_channels)
        require(f, step, true, "guide", {b, m.guide_channels, m.height, m.width}, m.latent_dtype, where + ".step");
    // One input per block (l, 0) / (l, 1) of the ring [L, 2, B, heads, S, N, head_dim] (docs/architecture.md §4).
    const std::vector<int64_t> block{b, c.n_heads, c.cache_slots, c.tokens_per_frame, c.head_dim};
    for (int64_t layer = 0; layer < c.n_layers; ++layer)
        for (const char* kind : {"past_key_", "past_value_"})
            require(f, step, true, kind + std::to_string(layer), block, c.dtype, where + ".step");
    require(f, step, true, "lags", {c.cache_slots}, DType::int64, where + ".step");
    if (m.head.flow())
        require(f, step, false, "head_cond", {b, c.tokens_per_frame, m.head.features}, m.latent_dtype, where + ".step");
    else
        require(f, step, false, "next_latents", latents, m.latent_dtype, where + ".step");
    require(f, step, false, "new_kv", {c.n_layers, 2, b, c.n_heads, c.tokens_per_frame, c.head_dim}, c.dtype,
            where + ".step");
    const GraphSpec& decode = graphs.at("decode");
    require(f, decode, true, "latents", latents, m.latent_dtype, where + ".decode");
    require(f, decode, false, "frames", {b, m.height, m.width, 4}, DType::uint8, where + ".decode");
    if (encode.inputs.size() != 1 || encode.outputs.size() != 1 || decode.inputs.size() != 1 || decode.outputs.size() != 1)
        f.fail(where, "encode and decode graphs with one input and one output");
    if (!m.head.flow()) return;
    const GraphSpec& noise = graphs.at("noise");
    if (noise.inputs.size() != 2 || noise.outputs.size() != 1) f.fail(where + ".noise", "2 inputs and 1 output");
    require(f, noise, true, "noise_bits", {b, 2, m.latent_channels, m.latent_height, m.latent_width}, DType::int32,
            where + ".noise");
    require(f, noise, true, "temperature", {1}, DType::float32, where + ".noise");
    require(f, noise, false, "noise", latents, m.latent_dtype, where + ".noise");
    const GraphSpec& sample = graphs.at("sample");
    if (sample.inputs.size() != 4 || sample.outputs.size() != 1) f.fail(where + ".sample", "4 inputs and 1 output");
    require(f, sample, true, "head_cond", {b, c.tokens_per_frame, m.head.features}, m.latent_dtype, where + ".sample");
    require(f, sample, true, "x", latents, m.latent_dtype, where + ".sample");
    require(f, sample, true, "t", {1}, DType::float32, where + ".sample");
    require(f, sample, true, "dt", {1}, DType::float32, where + ".sample");
    require(f, sample, false, "x_next", latents, m.latent_dtype, where + ".sample");
    for (int64_t steps : m.head.fused_sampling_steps) {
        const std::string kind = HeadSpec::fused_kind(steps), field = where + "." + kind;
        const GraphSpec& fused = graphs.at(kind);
        if (fused.inputs.size() != 3 || fused.outputs.size() != 1) f.fail(field, "3 inputs and 1 output");
        require(f, fused, true, "head_cond", {b, c.tokens_per_frame, m.head.features}, m.latent_dtype, field);
        require(f, fused, true, "noise_bits", {b, 2, m.latent_channels, m.latent_height, m.latent_width},
                DType::int32, field);
        require(f, fused, true, "temperature", {1}, DType::float32, field);
        require(f, fused, false, "next_latents", latents, m.latent_dtype, field);
    }
}

// Every top-level field a bundle carries, and nothing else (the exporter's provenance included, so
// any bundle says how it was made).
void read_top_level(const Fields& f, const json::Value& root) {
    static const std::map<std::string, json::Value::Kind> fields{
        {"format", json::Value::Kind::string}, {"format_version", json::Value::Kind::number},
        {"name", json::Value::Kind::string}, {"vidgen_rt_version", json::Value::Kind::string},
        {"created", json::Value::Kind::string}, {"precision", json::Value::Kind::string},
        {"exporter", json::Value::Kind::object}, {"frame", json::Value::Kind::object},
        {"latent", json::Value::Kind::object}, {"cache", json::Value::Kind::object},
        {"actions", json::Value::Kind::object}, {"conditions", json::Value::Kind::object},
        {"graphs", json::Value::Kind::object}, {"context", json::Value::Kind::object},
        {"postprocess", json::Value::Kind::object}, {"config", json::Value::Kind::object},
        {"source", json::Value::Kind::object}, {"engines", json::Value::Kind::object},
        {"head", json::Value::Kind::object}};
    for (const auto& [key, value] : root.object())
        if (!fields.count(key))
            f.fail(key, "no such field (a bundle holds only the fields of format version " +
                            std::to_string(kFormatVersion) + ")");
    for (const auto& [key, kind] : fields) {
        if (f.get(root, key, "").kind() == kind) continue;
        f.fail(key, kind == json::Value::Kind::string   ? "a string"
                    : kind == json::Value::Kind::number ? "a number"
                                                        : "an object");
    }
}

void read_version(const Fields& f, const json::Value& root, const std::string& file) {
    if (f.string(root, "format", "") != "vidgen_rt.bundle") f.fail("format", "\"vidgen_rt.bundle\"");
    const json::Value& version = f.get(root, "format_version", "");
    if (version.is_number() && (version.number() == 1 || version.number() == 2)) {
        const json::Value* source = root.find("source");
        const json::Value* checkpoint = source ? source->find("checkpoint") : nullptr;
        std::string from = checkpoint && checkpoint->is_string() ? checkpoint->string() : "CHECKPOINT";
        const char* why = version.number() == 1
                              ? "version 1 keeps its context in a ZIP (context.npz) that this runtime no longer reads"
                              : "version 2's step graph takes the whole cache as one kv_cache input, this runtime "
                                "binds one past_key_{l} / past_value_{l} input per layer";
        bundle_error(file + ": field 'format_version': " + why + "; re-export the bundle: vidgen export " + from +
                     " -o DIR");
    }
    if (!version.is_number() || version.number() != double(kFormatVersion))
        f.fail("format_version", std::to_string(kFormatVersion) + " (unsupported version " +
                                     (version.is_number() ? json_number(version.number()) : "not a number") + ")");
}

void read_shapes(const Fields& f, const json::Value& root, const ModelConfig& c, Manifest& m) {
    static const std::map<std::string, DType> precisions{
        {"fp32", DType::float32}, {"fp16", DType::float16}, {"int8", DType::float32}};
    m.precision = f.string(root, "precision", "");
    if (!precisions.count(m.precision)) f.fail("precision", "one of fp32, fp16, int8");
    const DType dtype = precisions.at(m.precision);
    const json::Value& frame = f.object(root, "frame", "");
    m.height = f.integer(frame, "height", "frame", 1, 16384);
    m.width = f.integer(frame, "width", "frame", 1, 16384);
    f.same(m.height, c.frame_height, "frame.height", "config.model.frame_height");
    f.same(m.width, c.frame_width, "frame.width", "config.model.frame_width");
    const json::Value& latent = f.object(root, "latent", "");
    m.latent_channels = f.integer(latent, "channels", "latent", 1, 65536);
    m.latent_height = f.integer(latent, "height", "latent", 1, 16384);
    m.latent_width = f.integer(latent, "width", "latent", 1, 16384);
    m.latent_dtype = f.dtype(latent, "dtype", "latent");
    f.same(m.latent_channels, c.latent_channels, "latent.channels", "config.model.latent_channels");
    f.same(m.latent_height, c.frame_height / c.downsample, "latent.height", "frame_height / downsample");
    f.same(m.latent_width, c.frame_width / c.downsample, "latent.width", "frame_width / downsample");
    if (m.latent_dtype != dtype) f.fail("latent.dtype", std::string(dtype_name(dtype)) + " for precision " + m.precision);

    const json::Value& cache = f.object(root, "cache", "");
    const json::Value& layout = f.get(cache, "layout", "cache");
    bool layout_ok = layout.is_array() && layout.array().size() == 7;
    for (size_t i = 0; layout_ok && i < 7; ++i)
        layout_ok = layout.array()[i].is_string() && layout.array()[i].string() == kLayout[i];
    if (!layout_ok) f.fail("cache.layout", "[n_layers, kv, batch, n_heads, cache_slots, tokens_per_frame, head_dim]");
    CacheSpec& k = m.cache;
    k.n_layers = f.integer(cache, "n_layers", "cache", 1, 1024);
    k.n_heads = f.integer(cache, "n_heads", "cache", 1, 1024);
    k.cache_slots = f.integer(cache, "cache_slots", "cache", 1, 4096);
    k.tokens_per_frame = f.integer(cache, "tokens_per_frame", "cache", 1, kMaxDim);
    k.head_dim = f.integer(cache, "head_dim", "cache", 1, 65536);
    k.lag_sentinel = f.integer(cache, "lag_sentinel", "cache", k.cache_slots + 1, INT32_MAX);
    k.dtype = f.dtype(cache, "dtype", "cache");
    if (f.dtype(cache, "lag_dtype", "cache") != DType::int64) f.fail("cache.lag_dtype", "int64");
    f.integer(cache, "first_slot", "cache", 0, 0);
    const int64_t p = c.token_patch;
    f.same(k.n_layers, c.n_layers, "cache.n_layers", "config.model.n_layers");
    f.same(k.n_heads, c.n_heads, "cache.n_heads", "config.model.n_heads");
    f.same(k.cache_slots, c.window - 1, "cache.cache_slots", "config.model.window - 1");
    f.same(k.tokens_per_frame, (m.latent_height / p) * (m.latent_width / p), "cache.tokens_per_frame",
           "latent cells / token_patch^2");
    f.same(k.head_dim, c.d_model / c.n_heads, "cache.head_dim", "config.model.d_model / n_heads");
    f.same(k.lag_sentinel, c.window, "cache.lag_sentinel", "config.model.window");
    if (k.dtype != dtype) f.fail("cache.dtype", std::string(dtype_name(dtype)) + " for precision " + m.precision);
}

void read_actions(const Fields& f, const json::Value& root, const ModelConfig& c, Manifest& m) {
    const json::Value& actions = f.object(root, "actions", "");
    const json::Value& names = f.get(actions, "names", "actions");
    if (!names.is_array() || names.array().empty() || names.array().size() > 65536)
        f.fail("actions.names", "a non-empty list of strings");
    if (int64_t(names.array().size()) != c.n_actions)
        f.fail("actions.names", std::to_string(c.n_actions) + " names (config.model.n_actions), got " +
                                    std::to_string(names.array().size()));
    const json::Value& bindings = f.object(actions, "key_bindings", "actions");
    std::set<std::string> seen;
    for (const json::Value& name : names.array()) {
        if (!name.is_string() || name.string().empty()) f.fail("actions.names", "a non-empty list of non-empty strings");
        if (!seen.insert(name.string()).second)
            f.fail("actions.names", "distinct names (duplicate action name \"" + name.string() + "\")");
        m.action_names.push_back(name.string());
        std::string keys;
        const json::Value* bound = bindings.find(name.string());
        if (bound && bound->is_array())
            for (const json::Value& key : bound->array())
                if (key.is_string()) keys += (keys.empty() ? "" : ",") + key.string();
        m.action_keys.push_back(keys);
    }
    m.default_action = f.integer(actions, "default", "actions", 0, int64_t(m.action_names.size()) - 1);
}

void read_conditions(const Fields& f, const json::Value& root, const ModelConfig& c, Manifest& m) {
    const json::Value& conditions = f.get(root, "conditions", "");
    if (!conditions.is_object()) f.fail("conditions", "an object");
    const json::Value& cond = f.get(conditions, "cond", "conditions");
    if (!cond.is_null()) m.cond_dim = f.integer(cond, "dim", "conditions.cond", 1, 65536);
    f.same(m.cond_dim, c.cond_dim, "conditions.cond.dim", "config.model.cond_dim");
    const json::Value& guide = f.get(conditions, "guide", "conditions");
    if (!guide.is_null()) {
        m.guide_channels = f.integer(guide, "channels", "conditions.guide", 1, 256);
        f.same(f.integer(guide, "height", "conditions.guide", 1, kMaxDim), m.height, "conditions.guide.height", "frame.height");
        f.same(f.integer(guide, "width", "conditions.guide", 1, kMaxDim), m.width, "conditions.guide.width", "frame.width");
        const json::Value& range = f.get(guide, "range", "conditions.guide");
        if (!range.is_array() || range.array().size() != 2 || !range.array()[0].is_number() ||
            !range.array()[1].is_number() || !(range.array()[0].number() < range.array()[1].number()) ||
            !std::isfinite(range.array()[0].number()) || !std::isfinite(range.array()[1].number()))
            f.fail("conditions.guide.range", "[lo, hi], finite numbers with lo < hi");
        m.guide_min = float(range.array()[0].number());
        m.guide_max = float(range.array()[1].number());
    }
    f.same(m.guide_channels, c.guide_channels, "conditions.guide.channels", "config.model.guide_channels");
}

void read_postprocess(const Fields& f, const json::Value& root, Manifest& m) {
    m.postprocess = vgrt_postprocess_default();
    const json::Value& post = f.object(root, "postprocess", "");
    auto number = [&](const char* key, float& out) {
        const json::Value& value = f.get(post, key, "postprocess");
        if (!value.is_number() || !std::isfinite(value.number())) f.fail(std::string("postprocess.") + key, "a number");
        out = float(value.number());
    };
    number("brightness", m.postprocess.brightness);
    number("contrast", m.postprocess.contrast);
    number("gamma", m.postprocess.gamma);
    number("sharpen", m.postprocess.sharpen);
}

// The head section (see HeadSpec); the noise spec names the one generator both languages implement.
void read_head(const Fields& f, const json::Value& root, const ModelConfig& c, Manifest& m) {
    const json::Value& head = f.object(root, "head", "");
    HeadSpec& h = m.head;
    h.kind = f.string(head, "kind", "head");
    if (h.kind != "mse" && h.kind != "flow_mlp" && h.kind != "flow_conv")
        f.fail("head.kind", "one of mse, flow_mlp, flow_conv (got \"" + h.kind + "\")");
    if (h.kind != c.head) f.fail("head.kind", "\"" + c.head + "\" (config.model.head), got \"" + h.kind + "\"");
    h.max_sampling_steps = f.integer(head, "max_sampling_steps", "head", 1, 64);
    h.sampling_steps = f.integer(head, "sampling_steps", "head", 1, h.max_sampling_steps);
    f.same(h.sampling_steps, c.sampling_steps, "head.sampling_steps", "config.model.sampling_steps");
    h.features = c.d_model;
    const json::Value& noise = f.object(head, "noise", "head");
    if (f.string(noise, "generator", "head.noise") != "philox4x32-10") f.fail("head.noise.generator", "\"philox4x32-10\"");
    f.integer(noise, "bits_per_value", "head.noise", 24, 24);
    f.string(noise, "layout", "head.noise");
    // Absent in bundles written before fused graphs existed: every K then runs noise + K × sample.
    if (const json::Value* fused = head.find("fused_sampling_steps")) {
        const std::string field = "head.fused_sampling_steps";
        if (!fused->is_array() || fused->array().size() > size_t(h.max_sampling_steps))
            f.fail(field, "a list of at most max_sampling_steps integers");
        for (const json::Value& steps : fused->array()) {
            const int64_t K = f.integer(steps, field, 1, h.max_sampling_steps);
            if (!h.fused_sampling_steps.empty() && K <= h.fused_sampling_steps.back())
                f.fail(field, "increasing values, each K once");
            h.fused_sampling_steps.push_back(K);
        }
        if (!h.flow() && !h.fused_sampling_steps.empty()) f.fail(field, "an empty list for head.kind \"mse\"");
    }
}

void read_graphs(const Fields& f, const json::Value& root, Manifest& m) {
    const json::Value& graphs = f.object(root, "graphs", "");
    if (graphs.object().empty() || graphs.object().size() > VGRT_MAX_BATCH_SIZES)
        f.fail("graphs", "1 to " + std::to_string(VGRT_MAX_BATCH_SIZES) + " batch sizes");
    for (const auto& [key, entry] : graphs.object()) {
        const std::string where = "graphs." + key;
        if (key.empty() || key.size() > 3 || key.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(key) < 1 || std::stoi(key) > kMaxBatch || key[0] == '0')
            f.fail(where, "a batch size 1.." + std::to_string(kMaxBatch) + " as key");
        int batch = std::stoi(key);
        const std::vector<std::string> kinds = m.head.graph_kinds();
        std::string names;
        for (const std::string& kind : kinds) names += (names.empty() ? "" : ", ") + kind;
        if (!entry.is_object() || entry.object().size() != kinds.size())
            f.fail(where, "exactly the graphs " + names + " (head.kind " + m.head.kind + ")");
        for (const std::string& kind : kinds) {
            const json::Value& spec = f.object(entry, kind, where);
            GraphSpec graph;
            graph.kind = kind;
            const std::string field = where + "." + kind;
            graph.file = f.string(spec, "file", field);
            m.files.push_back({graph.file, field, f.sha256(spec, field)});
            for (const char* io : {"inputs", "outputs"}) {
                const json::Value& list = f.get(spec, io, field);
                if (!list.is_array() || list.array().size() > 16) f.fail(field + "." + io, "a list of at most 16 tensors");
                for (const json::Value& item : list.array())
                    (io[0] == 'i' ? graph.inputs : graph.outputs).push_back(tensor(f, item, field + "." + io, true));
            }
            m.graphs[batch][kind] = std::move(graph);
        }
        check_graphs(f, m, batch, m.graphs[batch]);
    }
}

void read_context(const Fields& f, const json::Value& root, const ModelConfig& c, Manifest& m) {
    const json::Value& tensors = f.object(f.object(root, "context", ""), "tensors", "context");
    const int64_t K = c.window;
    const std::map<std::string, TensorSpec> expected{
        {"frames", {"frames", {K, m.height, m.width, 3}, DType::uint8}},
        {"actions", {"actions", {K - 1}, DType::int64}},
        {"cond", {"cond", {K - 1, m.cond_dim}, DType::float32}},
        {"guide", {"guide", {K - 1, m.guide_channels, m.height, m.width}, DType::float32}}};
    for (const auto& [name, entry] : tensors.object()) {
        const std::string where = "context.tensors." + name;
        auto want = expected.find(name);
        if (want == expected.end()) f.fail(where, "only frames, actions, cond, guide");
        ContextTensorSpec spec{tensor(f, entry, where, false), f.string(entry, "file", where), ""};
        spec.tensor.name = name;
        const TensorSpec& w = want->second;
        if (spec.tensor.shape != w.shape || spec.tensor.dtype != w.dtype)
            f.fail(where, describe_shape(w.shape) + " " + dtype_name(w.dtype) + " (K = config.model.window), got " +
                              describe_shape(spec.tensor.shape) + " " + dtype_name(spec.tensor.dtype));
        m.files.push_back({spec.file, where, f.sha256(entry, where)});
        m.context[name] = std::move(spec);
    }
    for (const char* name : {"frames", "actions"})
        if (!m.context.count(name)) f.fail(std::string("context.tensors.") + name, "present");
    if (m.context.count("cond") != size_t(m.cond_dim > 0) || m.context.count("guide") != size_t(m.guide_channels > 0))
        f.fail("context.tensors", "cond and guide exactly when the model takes them");
}

void read_engines(const Fields& f, const json::Value& root, Manifest& m) {
    for (const auto& [key, engine] : f.object(root, "engines", "").object()) {
        const std::string where = "engines." + key;
        if (!engine.is_object()) f.fail(where, "an object with file and sha256");
        m.engines[key].file = f.string(engine, "file", where);
        m.files.push_back({m.engines[key].file, where, f.sha256(engine, where)});
    }
}

}  // namespace

std::vector<std::string> HeadSpec::graph_kinds() const {
    if (!flow()) return {"encode", "step", "decode"};
    std::vector<std::string> kinds{"encode", "step", "noise", "sample", "decode"};
    for (int64_t steps : fused_sampling_steps) kinds.push_back(fused_kind(steps));
    return kinds;
}

Manifest parse_manifest(const std::string& directory, const std::string& file, const std::string& text) {
    Fields f(file);
    json::Value root = json::Value::make_null();
    try {
        root = json::parse(text);
    } catch (const std::exception& error) {
        bundle_error(file + ": not valid JSON (" + error.what() + ")");
    }
    if (!root.is_object()) f.fail("(top level)", "a JSON object");
    read_version(f, root, file);
    read_top_level(f, root);
    Manifest m;
    m.directory = directory;
    m.name = root.find("name")->string();
    const ModelConfig config = read_config(f, root);
    read_shapes(f, root, config, m);
    read_actions(f, root, config, m);
    read_conditions(f, root, config, m);
    read_postprocess(f, root, m);
    read_head(f, root, config, m);
    read_graphs(f, root, m);
    read_context(f, root, config, m);
    read_engines(f, root, m);
    std::set<std::string> names;
    for (const ListedFile& listed : m.files) {
        if (listed.name == "manifest.json" || !names.insert(listed.name).second)
            f.fail(listed.field + ".file", "a file no other field names (\"" + listed.name + "\" is named twice)");
    }
    return m;
}

}  // namespace vgrt
