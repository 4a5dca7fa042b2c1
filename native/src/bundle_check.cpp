// The file half of the bundle validator (see bundle.hpp): manifest.json read once, every listed
// file resolved inside the bundle and hashed, nothing unlisted beside them, each graph's ONNX
// signature compared with the manifest, and the default context read from its raw tensors. The
// files come from a BundleSource (a directory or a packed bundle in memory); the rules here are
// the same for both.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "bundle.hpp"
#include "bundle_source.hpp"
#include "errors.hpp"
#include "onnx_scan.hpp"
#include "sha256.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bundle tensors are little-endian; this reader copies them as they are"
#endif

namespace vgrt {
namespace {

constexpr uint64_t kMaxManifestBytes = uint64_t(16) << 20;
constexpr uint64_t kMaxGraphBytes = uint64_t(16) << 30;

int32_t onnx_type(DType dtype) {
    switch (dtype) {
        case DType::float32: return 1;
        case DType::uint8: return 2;
        case DType::int64: return 7;
        case DType::int32: return 6;
        case DType::float16: return 10;
    }
    return 0;
}

std::string onnx_type_name(int32_t type) {
    for (DType d : {DType::float32, DType::uint8, DType::int64, DType::int32, DType::float16})
        if (onnx_type(d) == type) return dtype_name(d);
    return "ONNX type " + std::to_string(type);
}

// The graph file's own inputs and outputs must be exactly those the manifest declares.
void check_signature(const GraphSpec& spec, const OnnxSignature& signature, const std::string& file,
                     const std::string& field) {
    for (bool inputs : {true, false}) {
        const std::vector<OnnxValue>& actual = inputs ? signature.inputs : signature.outputs;
        const std::vector<TensorSpec>& expected = inputs ? spec.inputs : spec.outputs;
        const std::string kind = inputs ? "input" : "output";
        const std::string where = file + " field '" + field + "." + kind + "s'";
        std::string have, want;
        for (const OnnxValue& v : actual) have += (have.empty() ? "" : ", ") + v.name;
        for (const TensorSpec& t : expected) want += (want.empty() ? "" : ", ") + t.name;
        if (have != want) bundle_error(spec.path + ": " + kind + "s are [" + have + "], " + where + " says [" + want + "]");
        for (size_t i = 0; i < actual.size(); ++i) {
            if (actual[i].dims != expected[i].shape)
                bundle_error(spec.path + ": " + kind + " '" + actual[i].name + "' has shape " + describe_shape(actual[i].dims) +
                             ", " + where + " says " + describe_shape(expected[i].shape));
            if (actual[i].elem_type != onnx_type(expected[i].dtype))
                bundle_error(spec.path + ": " + kind + " '" + actual[i].name + "' has dtype " +
                             onnx_type_name(actual[i].elem_type) + ", " + where + " says " + dtype_name(expected[i].dtype));
        }
    }
}

void check_sha(const std::string& path, const std::string& digest, const ListedFile& listed, const std::string& file) {
    if (digest != listed.sha256)
        bundle_error(path + ": checksum mismatch with " + file + " field '" + listed.field +
                     ".sha256' (the file was changed or truncated)");
}

template <typename T>
void copy_into(std::vector<T>& out, const FileBytes& bytes) {
    out.resize(bytes.size / sizeof(T));
    if (bytes.size) std::memcpy(out.data(), bytes.data, bytes.size);
}

Context read_context(const Manifest& m, const std::map<std::string, const ListedFile*>& listed,
                     const std::string& file, bool verify_checksums, BundleSource& source) {
    Context context;
    context.count = m.context.at("frames").tensor.shape[0];
    for (const auto& [name, spec] : m.context) {
        const ListedFile& entry = *listed.at(spec.file);
        const FileBytes bytes = source.read(spec.file, spec.tensor.bytes());
        if (verify_checksums) check_sha(spec.path, sha256_hex(bytes.data, bytes.size), entry, file);
        if (bytes.size != spec.tensor.bytes())
            bundle_error(spec.path + ": " + std::to_string(bytes.size) + " bytes, " + file + " field '" + entry.field +
                         "' declares " + describe_shape(spec.tensor.shape) + " " + dtype_name(spec.tensor.dtype) + " = " +
                         std::to_string(spec.tensor.bytes()) + " bytes (truncated?)");
        if (name == "frames") copy_into(context.frames, bytes);
        else if (name == "actions") copy_into(context.actions, bytes);
        else copy_into(name == "cond" ? context.cond : context.guide, bytes);
    }
    const int64_t n = int64_t(m.action_names.size());
    for (size_t i = 0; i < context.actions.size(); ++i)
        if (context.actions[i] < 0 || context.actions[i] >= n)
            bundle_error(m.context.at("actions").path + ": action [" + std::to_string(i) + "] = " +
                         std::to_string(context.actions[i]) + " out of range 0.." + std::to_string(n - 1));
    for (size_t i = 0; i < context.cond.size(); ++i)
        if (!std::isfinite(context.cond[i]))
            bundle_error(m.context.at("cond").path + ": value [" + std::to_string(i) + "] is not finite");
    size_t bad = first_outside(context.guide.data(), context.guide.size(), m.guide_min, m.guide_max);
    if (bad < context.guide.size()) {
        char text[160];
        std::snprintf(text, sizeof text, ": value [%zu] = %g outside conditions.guide.range [%g, %g]", bad,
                      double(context.guide[bad]), double(m.guide_min), double(m.guide_max));
        bundle_error(m.context.at("guide").path + text);
    }
    return context;
}

// The whole validator over one source (see bundle_source.hpp for what differs between sources).
Bundle validate_bundle(BundleSource& source, bool verify_checksums) {
    Bundle bundle;
    const std::string& root = source.root();
    const std::string file = root + "/manifest.json";
    bundle.text = source.manifest_text(kMaxManifestBytes);
    Manifest& m = bundle.manifest = parse_manifest(root, file, bundle.text);
    m.packed = source.in_memory();

    std::map<std::string, const ListedFile*> listed;
    std::map<std::string, std::string> fields;
    for (const ListedFile& entry : m.files) {
        listed[entry.name] = &entry;
        fields[entry.name] = file + ": field '" + entry.field + ".file'";
    }
    const std::map<std::string, std::string> resolved = source.resolve(fields);

    for (auto& [batch, graphs] : m.graphs) {
        for (auto& [kind, graph] : graphs) {
            graph.path = resolved.at(graph.file);
            const FileBytes bytes = source.read(graph.file, kMaxGraphBytes);
            const ListedFile& entry = *listed.at(graph.file);
            if (verify_checksums) check_sha(graph.path, sha256_hex(bytes.data, bytes.size), entry, file);
            check_signature(graph, read_onnx_signature(graph.path, bytes.data, bytes.size), file, entry.field);
            if (source.in_memory()) graph.bytes = {bytes.data, bytes.size};
        }
    }
    for (auto& [key, engine] : m.engines) {
        engine.path = resolved.at(engine.file);
        if (verify_checksums) check_sha(engine.path, source.sha256(engine.file), *listed.at(engine.file), file);
    }
    for (auto& [name, spec] : m.context) spec.path = resolved.at(spec.file);
    bundle.context = read_context(m, listed, file, verify_checksums, source);
    return bundle;
}

}  // namespace

Bundle read_bundle(const std::string& directory, bool verify_checksums) {
    DirectorySource source(directory);
    return validate_bundle(source, verify_checksums);
}

Bundle read_packed_bundle(const uint8_t* data, size_t size, bool verify_checksums) {
    PackSource source(data, size);
    return validate_bundle(source, verify_checksums);
}

Bundle read_packed_bundle(std::shared_ptr<const std::vector<uint8_t>> pack, bool verify_checksums) {
    Bundle bundle = read_packed_bundle(pack->data(), pack->size(), verify_checksums);
    bundle.manifest.storage = std::move(pack);
    return bundle;
}

size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::float32: return 4;
        case DType::float16: return 2;
        case DType::int64: return 8;
        case DType::int32: return 4;
        case DType::uint8: return 1;
    }
    return 0;
}

std::string describe_shape(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::float32: return "float32";
        case DType::float16: return "float16";
        case DType::int64: return "int64";
        case DType::int32: return "int32";
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

size_t first_outside(const float* values, size_t count, float lo, float hi) {
    for (size_t i = 0; i < count; ++i)
        if (!(values[i] >= lo && values[i] <= hi)) return i;
    return count;
}

}  // namespace vgrt
