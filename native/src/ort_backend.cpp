// The ONNX Runtime backend: libonnxruntime.so is dlopen'ed at run time (never linked) and driven
// through its C API, OrtGetApiBase()->GetApi(ORT_API_VERSION) against the 1.21 headers, which any
// newer library also serves. Library search order: the explicit option, $VGRT_ORT_LIBRARY, the
// directory libvidgen_rt.so itself was loaded from (an installed SDK ships libonnxruntime.so there;
// the variable stays first so a host can always override), the directory the Python layer passes
// (the onnxruntime wheel's capi/), then the system loader. Graphs of a packed bundle load from
// memory (CreateSessionFromArray), the others from their files.
// Sessions use the reference driver's settings (OrtStepper: full graph optimisation, sequential
// execution, one inter-op thread, intra-op threads from the options, spinning for the step only), so
// both compute the same bits. Each stream binds its own buffers through an OrtIoBinding once; a step is then a
// RunWithBinding on fixed addresses.
#include <dlfcn.h>

#include <map>
#include <mutex>

#include "backend.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "onnxruntime_c_api.h"
#include "shared_library.hpp"

namespace vgrt {
namespace {

// One loaded library: its API table and the process-wide OrtEnv (ONNX Runtime keeps a single
// environment per process; it and the library stay loaded until exit, as ORT requires).
struct OrtLibrary {
    std::string path;
    const OrtApi* api = nullptr;
    OrtEnv* env = nullptr;
    std::string version;
};

void ort_logger(void*, OrtLoggingLevel severity, const char* category, const char*, const char*,
                const char* message) {
    vgrt_log_level level = severity >= ORT_LOGGING_LEVEL_ERROR     ? VGRT_LOG_ERROR
                           : severity == ORT_LOGGING_LEVEL_WARNING ? VGRT_LOG_WARNING
                           : severity == ORT_LOGGING_LEVEL_INFO    ? VGRT_LOG_INFO
                                                                   : VGRT_LOG_DEBUG;
    log(level, std::string("onnxruntime [") + (category ? category : "") + "]: " + (message ? message : ""));
}

void check(const OrtApi* api, OrtStatus* status, const std::string& what) {
    if (!status) return;
    std::string message = api->GetErrorMessage(status);
    OrtErrorCode code = api->GetErrorCode(status);
    api->ReleaseStatus(status);
    fail(code == ORT_NOT_IMPLEMENTED ? VGRT_ERROR_UNSUPPORTED : VGRT_ERROR_BACKEND,
         "ONNX Runtime: " + what + ": " + message);
}

OrtLibrary& load_library(const vgrt_model_options& options) {
    static std::mutex mutex;
    static std::map<std::string, OrtLibrary> loaded;  // by the path asked for; never unloaded
    std::lock_guard<std::mutex> lock(mutex);

    const std::vector<std::string> attempts =
        library_attempts(options.ort_library, "VGRT_ORT_LIBRARY", "libonnxruntime.so", options.ort_search_dir,
                         {"libonnxruntime.so", "libonnxruntime.so.1"});
    std::string tried;
    OrtLibrary* library = open_first(loaded, attempts, [](void* handle, OrtLibrary& library) -> std::string {
        auto get_base = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(handle, "OrtGetApiBase"));
        if (!get_base) return "no OrtGetApiBase symbol (not ONNX Runtime)";
        const OrtApiBase* base = get_base();
        library.version = base->GetVersionString();
        library.api = base->GetApi(ORT_API_VERSION);
        if (!library.api)
            return "ONNX Runtime " + library.version + " is older than the 1." + std::to_string(ORT_API_VERSION) +
                   " API this runtime needs";
        check(library.api, library.api->CreateEnvWithCustomLogger(ort_logger, nullptr, ORT_LOGGING_LEVEL_WARNING,
                                                                  "vidgen_rt", &library.env),
              "creating the environment");
        log(VGRT_LOG_INFO, "ONNX Runtime " + library.version + " from " + library.path);
        return "";
    }, tried);
    if (library) return *library;
    fail(VGRT_ERROR_BACKEND,
         "cannot load ONNX Runtime (put libonnxruntime.so beside libvidgen_rt.so as `cmake --install` and "
         "`vidgen sdk` do, set VGRT_ORT_LIBRARY or the ort_library option, or install the onnxruntime Python "
         "package); tried:" + tried);
}

ONNXTensorElementDataType ort_type(DType dtype) {
    switch (dtype) {
        case DType::float32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
        case DType::float16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
        case DType::int64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
        case DType::int32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
        case DType::uint8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    }
    return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

class OrtBinding : public Binding {
public:
    OrtBinding(const OrtApi* api, OrtSession* session, std::shared_ptr<Graph> owner)
        : api_(api), session_(session), owner_(std::move(owner)) {}

    ~OrtBinding() override {
        if (binding_) api_->ReleaseIoBinding(binding_);
        for (OrtValue* value : values_) api_->ReleaseValue(value);
    }

    void bind(const OrtMemoryInfo* memory, const std::vector<TensorSpec>& specs, const std::vector<BufferRef>& buffers,
              bool input) {
        if (!binding_) check(api_, api_->CreateIoBinding(session_, &binding_), "creating an IoBinding");
        for (const TensorSpec& spec : specs) {
            const BufferRef& buffer = find_buffer(buffers, spec);
            OrtValue* value = nullptr;
            check(api_, api_->CreateTensorWithDataAsOrtValue(memory, buffer.data, buffer.bytes, spec.shape.data(),
                                                             spec.shape.size(), ort_type(spec.dtype), &value),
                  "wrapping buffer " + spec.name);
            values_.push_back(value);
            check(api_, input ? api_->BindInput(binding_, spec.name.c_str(), value)
                              : api_->BindOutput(binding_, spec.name.c_str(), value),
                  "binding " + spec.name);
        }
    }

    void run() override { check(api_, api_->RunWithBinding(session_, nullptr, binding_), "Run"); }

private:
    const OrtApi* api_;
    OrtSession* session_;
    std::shared_ptr<Graph> owner_;  // keeps the session alive while the binding exists
    OrtIoBinding* binding_ = nullptr;
    std::vector<OrtValue*> values_;
};

class OrtGraph : public Graph, public std::enable_shared_from_this<OrtGraph> {
public:
    OrtGraph(const OrtLibrary& library, OrtSessionOptions* options, const GraphSpec& spec)
        : api_(library.api), spec_(spec) {
        if (spec.bytes.data)
            check(api_, api_->CreateSessionFromArray(library.env, spec.bytes.data, spec.bytes.size, options, &session_),
                  "loading " + spec.path);
        else
            check(api_, api_->CreateSession(library.env, spec.path.c_str(), options, &session_), "loading " + spec.path);
        check(api_, api_->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &memory_), "memory info");
        validate(true);
        validate(false);
    }

    ~OrtGraph() override {
        if (memory_) api_->ReleaseMemoryInfo(memory_);
        if (session_) api_->ReleaseSession(session_);
    }

    std::unique_ptr<Binding> bind(const std::vector<BufferRef>& inputs, const std::vector<BufferRef>& outputs) override {
        auto binding = std::make_unique<OrtBinding>(api_, session_, shared_from_this());
        binding->bind(memory_, spec_.inputs, inputs, true);
        binding->bind(memory_, spec_.outputs, outputs, false);
        return binding;
    }

private:
    // The session's own inputs/outputs must be exactly those the manifest promised.
    void validate(bool inputs) {
        const std::vector<TensorSpec>& expected = inputs ? spec_.inputs : spec_.outputs;
        const char* kind = inputs ? "input" : "output";
        size_t count = 0;
        check(api_, inputs ? api_->SessionGetInputCount(session_, &count) : api_->SessionGetOutputCount(session_, &count),
              "reading the graph's signature");
        if (count != expected.size())
            bundle_error(spec_.path + ": has " + std::to_string(count) + " " + kind + "s, manifest.json says " +
                         std::to_string(expected.size()));
        OrtAllocator* allocator = nullptr;
        check(api_, api_->GetAllocatorWithDefaultOptions(&allocator), "allocator");
        for (size_t i = 0; i < count; ++i) {
            char* raw = nullptr;
            check(api_, inputs ? api_->SessionGetInputName(session_, i, allocator, &raw)
                               : api_->SessionGetOutputName(session_, i, allocator, &raw),
                  "reading names");
            std::string name = raw;
            allocator->Free(allocator, raw);
            OrtTypeInfo* info = nullptr;
            check(api_, inputs ? api_->SessionGetInputTypeInfo(session_, i, &info)
                               : api_->SessionGetOutputTypeInfo(session_, i, &info),
                  "reading types");
            const OrtTensorTypeAndShapeInfo* tensor = nullptr;
            ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
            size_t rank = 0;
            std::vector<int64_t> dims;
            OrtStatus* status = api_->CastTypeInfoToTensorInfo(info, &tensor);
            if (!status && tensor) status = api_->GetTensorElementType(tensor, &type);
            if (!status && tensor) status = api_->GetDimensionsCount(tensor, &rank);
            if (!status && tensor) {
                dims.resize(rank);
                status = api_->GetDimensions(tensor, dims.data(), rank);
            }
            api_->ReleaseTypeInfo(info);
            check(api_, status, "reading " + name);
            const TensorSpec& want = expected[i];
            if (name != want.name || type != ort_type(want.dtype) || dims != want.shape)
                bundle_error(spec_.path + ": " + kind + " " + std::to_string(i) + " is \"" + name + "\" (element type " +
                             std::to_string(int(type)) + ", rank " + std::to_string(rank) +
                             "), manifest.json says \"" + want.name + "\" " + dtype_name(want.dtype) + " of rank " +
                             std::to_string(want.shape.size()) + " with its shape");
        }
    }

    const OrtApi* api_;
    GraphSpec spec_;
    OrtSession* session_ = nullptr;
    OrtMemoryInfo* memory_ = nullptr;
};

class OrtBackend : public Backend {
public:
    // Only step.onnx's pool may spin; encode, decode and a flow head's noise and sample graphs get options
    // with spinning off: each session has its own intra-op pool, and a pool that spins after its Run keeps
    // both cores busy while the next session's pool needs them (measured: 18.8 -> 9.6 ms per frame of the
    // small world on 2 cores; a flow head runs noise and sample K times a frame, docs/performance.md).
    OrtBackend(OrtLibrary& library, const vgrt_model_options& options) : library_(library) {
        const OrtApi* api = library.api;
        check(api, api->CreateSessionOptions(&step_options_), "session options");
        OrtStatus* status = api->CreateSessionOptions(&quiet_options_);
        if (status) {
            api->ReleaseSessionOptions(step_options_);
            check(api, status, "session options");
        }
        try {
            configure(step_options_, options, options.allow_spinning);
            configure(quiet_options_, options, false);
        } catch (...) {
            api->ReleaseSessionOptions(step_options_);
            api->ReleaseSessionOptions(quiet_options_);
            throw;
        }
    }

    ~OrtBackend() override {
        library_.api->ReleaseSessionOptions(step_options_);
        library_.api->ReleaseSessionOptions(quiet_options_);
    }

    std::shared_ptr<Graph> load(const GraphSpec& spec, int) override {
        return std::make_shared<OrtGraph>(library_, spec.kind == "step" ? step_options_ : quiet_options_, spec);
    }

    std::string name() const override { return "ort"; }
    std::string library() const override { return library_.path; }

private:
    void configure(OrtSessionOptions* session, const vgrt_model_options& options, bool spinning) {
        const OrtApi* api = library_.api;
        check(api, api->SetSessionGraphOptimizationLevel(session, ORT_ENABLE_ALL), "optimisation level");
        check(api, api->SetSessionExecutionMode(session, ORT_SEQUENTIAL), "execution mode");
        check(api, api->SetInterOpNumThreads(session, 1), "inter-op threads");
        if (options.intra_op_threads > 0)
            check(api, api->SetIntraOpNumThreads(session, options.intra_op_threads), "intra-op threads");
        check(api, api->AddSessionConfigEntry(session, "session.intra_op.allow_spinning", spinning ? "1" : "0"),
              "spinning");
        std::string provider = options.provider && *options.provider ? options.provider : "cpu";
        if (provider == "cpu") return;
        if (provider != "cuda" && provider != "tensorrt")
            invalid("provider \"" + provider + "\": expected \"cpu\", \"cuda\" or \"tensorrt\"");
        std::string wanted = provider == "cuda" ? "CUDAExecutionProvider" : "TensorrtExecutionProvider";
        require_provider(wanted);
        std::string device = std::to_string(options.device_id);
        const char* keys[] = {"device_id"};
        const char* values[] = {device.c_str()};
        if (provider == "cuda") {
            OrtCUDAProviderOptionsV2* cuda = nullptr;
            check(api, api->CreateCUDAProviderOptions(&cuda), "CUDA provider options");
            OrtStatus* status = api->UpdateCUDAProviderOptions(cuda, keys, values, 1);
            if (!status) status = api->SessionOptionsAppendExecutionProvider_CUDA_V2(session, cuda);
            api->ReleaseCUDAProviderOptions(cuda);
            check(api, status, "enabling the CUDA execution provider");
        } else {
            OrtTensorRTProviderOptionsV2* trt = nullptr;
            check(api, api->CreateTensorRTProviderOptions(&trt), "TensorRT provider options");
            OrtStatus* status = api->UpdateTensorRTProviderOptions(trt, keys, values, 1);
            if (!status) status = api->SessionOptionsAppendExecutionProvider_TensorRT_V2(session, trt);
            api->ReleaseTensorRTProviderOptions(trt);
            check(api, status, "enabling the TensorRT execution provider");
        }
    }

    void require_provider(const std::string& wanted) {
        const OrtApi* api = library_.api;
        char** names = nullptr;
        int count = 0;
        check(api, api->GetAvailableProviders(&names, &count), "listing execution providers");
        std::string available;
        bool found = false;
        for (int i = 0; i < count; ++i) {
            available += (i ? ", " : "") + std::string(names[i]);
            found = found || wanted == names[i];
        }
        check(api, api->ReleaseAvailableProviders(names, count), "releasing the provider list");
        if (!found)
            fail(VGRT_ERROR_UNSUPPORTED, "the ONNX Runtime library " + library_.path + " (" + library_.version +
                                             ") has no " + wanted + " (it has: " + available +
                                             "); install onnxruntime-gpu or pass its library as ort_library");
    }

    OrtLibrary& library_;
    OrtSessionOptions* step_options_ = nullptr;   // step.onnx: spinning as the caller asked
    OrtSessionOptions* quiet_options_ = nullptr;  // every other graph: never spins
};

}  // namespace

std::unique_ptr<Backend> make_ort_backend(const Manifest&, const vgrt_model_options& options) {
    return std::make_unique<OrtBackend>(load_library(options), options);
}

}  // namespace vgrt
