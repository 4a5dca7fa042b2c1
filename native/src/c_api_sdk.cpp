// The C ABI's struct defaults (vgrt_*_init, behind the header's static inline *_default()), packed
// bundles opened from memory and the manifest accessor. The defaults write nothing unless the
// caller's stamp is this library's, so a struct from another header never gets this library's
// layout written over it (vidgen_rt.h, "ABI rule").
#include <memory>
#include <string>
#include <vector>

#include "bundle.hpp"
#include "c_api_support.hpp"
#include "model.hpp"
#include "vidgen_rt.h"

namespace vgrt::capi {

vgrt_model_options resolve_model_options(const vgrt_model_options* options) {
    vgrt_model_options resolved;
    vgrt_model_options_init(&resolved, VGRT_ABI_VERSION, sizeof resolved);
    if (options) {
        check_struct(options, "options");
        resolved = *options;
    }
    if (resolved.verify_checksums != 0 && resolved.verify_checksums != 1)
        invalid("options.verify_checksums = " + std::to_string(resolved.verify_checksums) + ": expected 0 or 1");
    if (resolved.intra_op_threads < 0 || resolved.intra_op_threads > 1024)
        invalid("options.intra_op_threads = " + std::to_string(resolved.intra_op_threads) + ": expected 0..1024");
    const std::string precision = resolved.compute_precision ? resolved.compute_precision : "";
    if (!precision.empty() && precision != "bf16")
        invalid("options.compute_precision = \"" + precision + "\": expected \"\" (the bundle's precision) or \"bf16\"");
    return resolved;
}

}  // namespace vgrt::capi

namespace {

using namespace vgrt::capi;
using vgrt::invalid;

// Checks the caller's stamp, then zeroes *out and stamps it with this library's version and size.
template <typename T>
void init_header(T* out, uint32_t abi_version, uint32_t struct_size, const char* name) {
    if (!out) invalid(std::string("out is NULL (") + name + ")");
    check_stamp(name, abi_version, struct_size, sizeof(T));
    std::memset(out, 0, sizeof(T));
    out->struct_size = sizeof(T);
    out->abi_version = VGRT_ABI_VERSION;
}

// Only NULL is the caller's mistake; bytes too short to be a pack are a bad bundle (PackSource).
void require_data(const void* data) {
    if (!data) invalid("data is NULL");
}

}  // namespace

extern "C" {

VGRT_API int vgrt_model_options_init(vgrt_model_options* out, uint32_t abi_version, uint32_t struct_size) {
    return guarded([&] {
        init_header(out, abi_version, struct_size, "vgrt_model_options");
        out->backend = "ort";
        out->provider = "cpu";
        out->compute_precision = "";
        out->allow_spinning = 0;  // a host shares its cores (docs/embedding.md §5); benches opt in
        out->verify_checksums = 1;
    });
}

VGRT_API int vgrt_stream_options_init(vgrt_stream_options* out, uint32_t abi_version, uint32_t struct_size) {
    return guarded([&] {
        init_header(out, abi_version, struct_size, "vgrt_stream_options");
        out->batch = 1;
        out->temperature = 1.0f;
    });
}

VGRT_API int vgrt_postprocess_init(vgrt_postprocess* out, uint32_t abi_version, uint32_t struct_size) {
    return guarded([&] {
        init_header(out, abi_version, struct_size, "vgrt_postprocess");
        out->contrast = 1.0f;
        out->gamma = 1.0f;
    });
}

VGRT_API int vgrt_model_info_init(vgrt_model_info* out, uint32_t abi_version, uint32_t struct_size) {
    return guarded([&] { init_header(out, abi_version, struct_size, "vgrt_model_info"); });
}

VGRT_API int vgrt_stats_init(vgrt_stats* out, uint32_t abi_version, uint32_t struct_size) {
    return guarded([&] { init_header(out, abi_version, struct_size, "vgrt_stats"); });
}

VGRT_API int vgrt_bundle_check_memory(const void* data, size_t size, int32_t verify_checksums,
                                      const char** out_manifest) {
    thread_local std::string t_manifest;
    return guarded([&] {
        if (out_manifest) *out_manifest = nullptr;
        require_data(data);
        if (verify_checksums != 0 && verify_checksums != 1)
            invalid("verify_checksums = " + std::to_string(verify_checksums) + ": expected 0 or 1");
        vgrt::Bundle bundle = vgrt::read_packed_bundle(static_cast<const uint8_t*>(data), size, verify_checksums != 0);
        if (!out_manifest) return;
        t_manifest = std::move(bundle.text);
        *out_manifest = t_manifest.c_str();
    });
}

VGRT_API int vgrt_model_open_memory(const void* data, size_t size, const vgrt_model_options* options,
                                    vgrt_model** out_model) {
    return guarded([&] {
        if (!out_model) invalid("out_model is NULL");
        *out_model = nullptr;
        require_data(data);
        const vgrt_model_options resolved = resolve_model_options(options);
        // The model's own copy: graphs of other batch sizes load from it when a stream first asks.
        auto bytes = std::make_shared<const std::vector<uint8_t>>(static_cast<const uint8_t*>(data),
                                                                  static_cast<const uint8_t*>(data) + size);
        auto model = std::make_shared<vgrt::Model>(std::move(bytes), resolved);
        *out_model = reinterpret_cast<vgrt_model*>(models().add(std::move(model)));
    });
}

VGRT_API int vgrt_model_get_manifest(const vgrt_model* handle, const char** out_text) {
    return guarded([&] {
        auto model = models().get(handle);
        if (!out_text) invalid("out_text is NULL");
        *out_text = model->manifest_text().c_str();
    });
}

}  // extern "C"
