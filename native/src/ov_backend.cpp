// The OpenVINO backend: libopenvino_c.so (OpenVINO's C API, shipped in the `openvino` wheel's libs/)
// is dlopen'ed at run time, never linked, and every function it calls is resolved with dlsym and
// typed by the C API headers found at configure time. It runs the bundle's ONNX graphs on
// OpenVINO's CPU plugin, which reads ONNX itself (ov_core_read_model; a packed bundle's graphs from
// memory). Why OpenVINO's own API rather than ONNX Runtime's OpenVINO execution provider: that
// provider ships as a separate wheel (onnxruntime-openvino) that replaces the onnxruntime package
// the ORT backend loads (docs/runtime.md, "OpenVINO backend").
// Library search order: the openvino_library option, $VGRT_OPENVINO_LIBRARY, libopenvino_c.so*
// beside libvidgen_rt.so, the directory the Python layer passes (the wheel's libs/), the system
// loader. Each graph is compiled once for "CPU" with INFERENCE_NUM_THREADS = intra_op_threads,
// PERFORMANCE_HINT LATENCY, NUM_STREAMS 1 and INFERENCE_PRECISION_HINT f32, or bf16 when the
// options ask for compute_precision "bf16" (docs/runtime.md, "OpenVINO backend"), and with
// ENABLE_CPU_PINNING NO: each compiled graph pins its stream to cores it picks alone, so two graphs
// that run at once (the asynchronous stream's stepping and decoding threads) landed on the same
// core (docs/performance.md, attempt 10). A binding is one infer request whose tensors wrap the
// caller's buffers (created from host pointers once, never copied per run); run() infers
// synchronously on the calling thread.
#include <dlfcn.h>

#include <map>
#include <mutex>

#include "backend.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "shared_library.hpp"
// After the runtime's own headers: the C API declares unscoped names (OK, F32, ...).
#include "openvino/c/openvino.h"

namespace vgrt {
namespace {

// The C API functions this backend calls, each typed by its declaration in the headers.
struct OvApi {
    decltype(&::ov_get_openvino_version) get_openvino_version = nullptr;
    decltype(&::ov_version_free) version_free = nullptr;
    decltype(&::ov_get_error_info) get_error_info = nullptr;
    decltype(&::ov_get_last_err_msg) get_last_err_msg = nullptr;
    decltype(&::ov_free) free = nullptr;
    decltype(&::ov_core_create) core_create = nullptr;
    decltype(&::ov_core_read_model) core_read_model = nullptr;
    decltype(&::ov_core_read_model_from_memory_buffer) core_read_model_from_memory_buffer = nullptr;
    decltype(&::ov_core_compile_model) core_compile_model = nullptr;
    decltype(&::ov_model_free) model_free = nullptr;
    decltype(&::ov_compiled_model_inputs_size) compiled_model_inputs_size = nullptr;
    decltype(&::ov_compiled_model_outputs_size) compiled_model_outputs_size = nullptr;
    decltype(&::ov_compiled_model_input_by_name) compiled_model_input_by_name = nullptr;
    decltype(&::ov_compiled_model_output_by_name) compiled_model_output_by_name = nullptr;
    decltype(&::ov_compiled_model_create_infer_request) compiled_model_create_infer_request = nullptr;
    decltype(&::ov_compiled_model_free) compiled_model_free = nullptr;
    decltype(&::ov_compiled_model_get_property) compiled_model_get_property = nullptr;
    decltype(&::ov_port_get_element_type) port_get_element_type = nullptr;
    decltype(&::ov_const_port_get_shape) const_port_get_shape = nullptr;
    decltype(&::ov_output_const_port_free) output_const_port_free = nullptr;
    decltype(&::ov_shape_create) shape_create = nullptr;
    decltype(&::ov_shape_free) shape_free = nullptr;
    decltype(&::ov_tensor_create_from_host_ptr) tensor_create_from_host_ptr = nullptr;
    decltype(&::ov_tensor_free) tensor_free = nullptr;
    decltype(&::ov_infer_request_set_tensor) infer_request_set_tensor = nullptr;
    decltype(&::ov_infer_request_infer) infer_request_infer = nullptr;
    decltype(&::ov_infer_request_free) infer_request_free = nullptr;
};

// One loaded library: its functions and the process-wide core (thread-safe; it, like the library,
// stays until exit, as the ONNX Runtime backend keeps its environment).
struct OvLibrary {
    std::string path;
    std::string version;
    OvApi api;
    ov_core_t* core = nullptr;
};

// OpenVINO's status as a vgrt error naming the call, with OpenVINO's own message on one line.
void check(const OvApi& api, ov_status_e status, const std::string& what) {
    if (status == OK) return;
    std::string message = api.get_error_info(status);
    if (const char* detail = api.get_last_err_msg()) {
        std::string text = detail;
        api.free(detail);
        for (char& c : text)
            if (c == '\n') c = ' ';
        while (!text.empty() && text.back() == ' ') text.pop_back();
        if (!text.empty()) message += ": " + text;
    }
    fail(status == NOT_IMPLEMENTED || status == NOT_IMPLEMENT_C_METHOD ? VGRT_ERROR_UNSUPPORTED : VGRT_ERROR_BACKEND,
         "OpenVINO: " + what + ": " + message);
}

template <typename F>
void resolve(void* handle, const char* symbol, F& function, std::string& missing) {
    function = reinterpret_cast<F>(dlsym(handle, symbol));
    if (!function) missing += std::string(missing.empty() ? "" : ", ") + symbol;
}

// Every function of OvApi from `handle`; the names of those absent, "" when all were found.
std::string resolve_api(void* handle, OvApi& api) {
    std::string missing;
    resolve(handle, "ov_get_openvino_version", api.get_openvino_version, missing);
    resolve(handle, "ov_version_free", api.version_free, missing);
    resolve(handle, "ov_get_error_info", api.get_error_info, missing);
    resolve(handle, "ov_get_last_err_msg", api.get_last_err_msg, missing);
    resolve(handle, "ov_free", api.free, missing);
    resolve(handle, "ov_core_create", api.core_create, missing);
    resolve(handle, "ov_core_read_model", api.core_read_model, missing);
    resolve(handle, "ov_core_read_model_from_memory_buffer", api.core_read_model_from_memory_buffer, missing);
    resolve(handle, "ov_core_compile_model", api.core_compile_model, missing);
    resolve(handle, "ov_model_free", api.model_free, missing);
    resolve(handle, "ov_compiled_model_inputs_size", api.compiled_model_inputs_size, missing);
    resolve(handle, "ov_compiled_model_outputs_size", api.compiled_model_outputs_size, missing);
    resolve(handle, "ov_compiled_model_input_by_name", api.compiled_model_input_by_name, missing);
    resolve(handle, "ov_compiled_model_output_by_name", api.compiled_model_output_by_name, missing);
    resolve(handle, "ov_compiled_model_create_infer_request", api.compiled_model_create_infer_request, missing);
    resolve(handle, "ov_compiled_model_free", api.compiled_model_free, missing);
    resolve(handle, "ov_compiled_model_get_property", api.compiled_model_get_property, missing);
    resolve(handle, "ov_port_get_element_type", api.port_get_element_type, missing);
    resolve(handle, "ov_const_port_get_shape", api.const_port_get_shape, missing);
    resolve(handle, "ov_output_const_port_free", api.output_const_port_free, missing);
    resolve(handle, "ov_shape_create", api.shape_create, missing);
    resolve(handle, "ov_shape_free", api.shape_free, missing);
    resolve(handle, "ov_tensor_create_from_host_ptr", api.tensor_create_from_host_ptr, missing);
    resolve(handle, "ov_tensor_free", api.tensor_free, missing);
    resolve(handle, "ov_infer_request_set_tensor", api.infer_request_set_tensor, missing);
    resolve(handle, "ov_infer_request_infer", api.infer_request_infer, missing);
    resolve(handle, "ov_infer_request_free", api.infer_request_free, missing);
    return missing;
}

OvLibrary& load_library(const vgrt_model_options& options) {
    static std::mutex mutex;
    static std::map<std::string, OvLibrary> loaded;  // by the path asked for; never unloaded
    std::lock_guard<std::mutex> lock(mutex);

    const std::vector<std::string> attempts =
        library_attempts(options.openvino_library, "VGRT_OPENVINO_LIBRARY", "libopenvino_c.so",
                         options.openvino_search_dir, {"libopenvino_c.so"});
    std::string tried;
    OvLibrary* library = open_first(loaded, attempts, [](void* handle, OvLibrary& library) -> std::string {
        const std::string missing = resolve_api(handle, library.api);
        if (!missing.empty()) return "not an OpenVINO C API this runtime can use (missing " + missing + ")";
        ov_version_t version{};
        check(library.api, library.api.get_openvino_version(&version), "ov_get_openvino_version");
        library.version = version.buildNumber ? version.buildNumber : "";
        library.api.version_free(&version);
        check(library.api, library.api.core_create(&library.core), "ov_core_create");
        log(VGRT_LOG_INFO, "OpenVINO " + library.version + " from " + library.path);
        return "";
    }, tried);
    if (library) return *library;
    fail(VGRT_ERROR_BACKEND,
         "OpenVINO not available: cannot load libopenvino_c.so (pip install openvino into this Python, set "
         "VGRT_OPENVINO_LIBRARY or the openvino_library option, or put it beside libvidgen_rt.so); tried:" + tried);
}

ov_element_type_e ov_type(DType dtype) {
    switch (dtype) {
        case DType::float32: return F32;
        case DType::float16: return F16;
        case DType::int64: return I64;
        case DType::int32: return I32;
        case DType::uint8: return U8;
    }
    return DYNAMIC;
}

class OvBinding : public Binding {
public:
    OvBinding(const OvApi& api, const ov_compiled_model_t* compiled, const std::string& path,
              std::shared_ptr<Graph> owner)
        : api_(api), path_(path), owner_(std::move(owner)) {
        check(api_, api_.compiled_model_create_infer_request(compiled, &request_),
              "creating an infer request for " + path_);
    }

    ~OvBinding() override {
        for (ov_tensor_t* tensor : tensors_) api_.tensor_free(tensor);
        if (request_) api_.infer_request_free(request_);
    }

    // The caller's buffer as the tensor `spec` names: OpenVINO reads and writes it in place.
    void add(const TensorSpec& spec, const BufferRef& buffer) {
        ov_shape_t shape{};
        check(api_, api_.shape_create(int64_t(spec.shape.size()), spec.shape.data(), &shape), "shape of " + spec.name);
        ov_tensor_t* tensor = nullptr;
        const ov_status_e status = api_.tensor_create_from_host_ptr(ov_type(spec.dtype), shape, buffer.data, &tensor);
        api_.shape_free(&shape);
        check(api_, status, "wrapping buffer " + spec.name);
        tensors_.push_back(tensor);
        check(api_, api_.infer_request_set_tensor(request_, spec.name.c_str(), tensor), "binding " + spec.name);
    }

    void run() override { check(api_, api_.infer_request_infer(request_), "infer " + path_); }

private:
    const OvApi& api_;
    std::string path_;
    std::shared_ptr<Graph> owner_;  // keeps the compiled model alive while the binding exists
    ov_infer_request_t* request_ = nullptr;
    std::vector<ov_tensor_t*> tensors_;
};

class OvGraph : public Graph, public std::enable_shared_from_this<OvGraph> {
public:
    OvGraph(const OvLibrary& library, const GraphSpec& spec, const std::string& threads, const std::string& precision)
        : api_(library.api), spec_(spec) {
        ov_model_t* model = nullptr;
        if (spec.bytes.data)
            check(api_, api_.core_read_model_from_memory_buffer(
                            library.core, reinterpret_cast<const char*>(spec.bytes.data), spec.bytes.size, nullptr, &model),
                  "reading " + spec.path);
        else
            check(api_, api_.core_read_model(library.core, spec.path.c_str(), nullptr, &model), "reading " + spec.path);
        const ov_status_e status = api_.core_compile_model(
            library.core, model, "CPU", 10, &compiled_, "INFERENCE_NUM_THREADS", threads.c_str(), "PERFORMANCE_HINT",
            "LATENCY", "NUM_STREAMS", "1", "INFERENCE_PRECISION_HINT", precision.c_str(), "ENABLE_CPU_PINNING", "NO");
        api_.model_free(model);
        check(api_, status, "compiling " + spec.path + " for CPU (" + precision + ")");
        validate(true);
        validate(false);
        log(VGRT_LOG_INFO, "OpenVINO compiled " + spec.path + ": " + settings());
    }

    ~OvGraph() override {
        if (compiled_) api_.compiled_model_free(compiled_);
    }

    std::unique_ptr<Binding> bind(const std::vector<BufferRef>& inputs, const std::vector<BufferRef>& outputs) override {
        auto binding = std::make_unique<OvBinding>(api_, compiled_, spec_.path, shared_from_this());
        for (const TensorSpec& spec : spec_.inputs) binding->add(spec, find_buffer(inputs, spec));
        for (const TensorSpec& spec : spec_.outputs) binding->add(spec, find_buffer(outputs, spec));
        return binding;
    }

private:
    // The settings the CPU plugin compiled with, read back from it (what it did, not what was asked).
    std::string settings() const {
        std::string text;
        for (const char* key : {"INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "ENABLE_CPU_PINNING"}) {
            char* value = nullptr;
            check(api_, api_.compiled_model_get_property(compiled_, key, &value), std::string("reading ") + key);
            text += std::string(text.empty() ? "" : ", ") + key + " " + value;
            api_.free(value);
        }
        return text;
    }

    // The compiled model's inputs/outputs must be exactly those the manifest promised, found by name.
    void validate(bool inputs) {
        const std::vector<TensorSpec>& expected = inputs ? spec_.inputs : spec_.outputs;
        const char* kind = inputs ? "input" : "output";
        size_t count = 0;
        check(api_, inputs ? api_.compiled_model_inputs_size(compiled_, &count)
                           : api_.compiled_model_outputs_size(compiled_, &count),
              "reading the graph's signature");
        if (count != expected.size())
            bundle_error(spec_.path + ": has " + std::to_string(count) + " " + kind + "s, manifest.json says " +
                         std::to_string(expected.size()));
        for (const TensorSpec& want : expected) {
            ov_output_const_port_t* port = nullptr;
            if ((inputs ? api_.compiled_model_input_by_name(compiled_, want.name.c_str(), &port)
                        : api_.compiled_model_output_by_name(compiled_, want.name.c_str(), &port)) != OK)
                bundle_error(spec_.path + ": has no " + kind + " \"" + want.name + "\", which manifest.json lists");
            ov_element_type_e type = DYNAMIC;
            ov_shape_t shape{};
            ov_status_e status = api_.port_get_element_type(port, &type);
            if (status == OK) status = api_.const_port_get_shape(port, &shape);
            api_.output_const_port_free(port);
            check(api_, status, "reading " + want.name);
            const std::vector<int64_t> dims(shape.dims, shape.dims + shape.rank);
            api_.shape_free(&shape);
            if (type != ov_type(want.dtype) || dims != want.shape)
                bundle_error(spec_.path + ": " + kind + " \"" + want.name + "\" is " + describe_shape(dims) +
                             " (OpenVINO element type " + std::to_string(int(type)) + "), manifest.json says " +
                             dtype_name(want.dtype) + " " + describe_shape(want.shape));
        }
    }

    const OvApi& api_;
    GraphSpec spec_;
    ov_compiled_model_t* compiled_ = nullptr;
};

class OvBackend : public Backend {
public:
    OvBackend(const OvLibrary& library, const vgrt_model_options& options)
        : library_(library),
          threads_(std::to_string(options.intra_op_threads)),
          bf16_(options.compute_precision && std::string(options.compute_precision) == "bf16") {
        std::string provider = options.provider && *options.provider ? options.provider : "cpu";
        if (provider != "cpu")
            invalid("provider \"" + provider + "\" is an ONNX Runtime execution provider; backend \"openvino\" runs "
                    "on the CPU (provider \"cpu\")");
    }

    // The noise graph stays f32 at any compute precision: it turns the seed's bits into the Gaussian
    // noise every backend must draw alike (docs/architecture.md §4), and it is a sliver of a frame.
    // A fused sample_k{K} graph holds the same transform and runs at the stream's precision: the CPU
    // plugin keeps its Log/Cos/Sqrt in f32 under a bf16 hint (measured: noise.onnx gives identical
    // values under both, docs/performance.md).
    std::shared_ptr<Graph> load(const GraphSpec& spec, int) override {
        const std::string precision = bf16_ && spec.kind != "noise" ? "bf16" : "f32";
        return std::make_shared<OvGraph>(library_, spec, threads_, precision);
    }

    std::string name() const override { return "openvino"; }
    std::string library() const override { return library_.path; }

private:
    const OvLibrary& library_;
    std::string threads_;  // INFERENCE_NUM_THREADS: "0" is OpenVINO's own choice
    bool bf16_;
};

}  // namespace

std::unique_ptr<Backend> make_openvino_backend(const Manifest&, const vgrt_model_options& options) {
    return std::make_unique<OvBackend>(load_library(options), options);
}

}  // namespace vgrt
