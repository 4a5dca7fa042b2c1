// The TensorRT backend (built only with -DVGRT_TENSORRT=AUTO/ON where NvInfer.h, libnvinfer and
// the CUDA runtime are found): it deserialises the bundle's prebuilt engines (manifest `engines`,
// keyed "<graph>-b<batch>", built by vidgen_rt.export.tensorrt for this GPU and TensorRT version)
// and runs them with enqueueV3 on one CUDA stream per binding. Each binding allocates its device
// tensors once and sets their addresses once, so the addresses never change between steps (the
// precondition for capturing a step into a CUDA graph); a run copies the host inputs in, enqueues,
// copies the outputs back and synchronises. Written against TensorRT 10; not compiled or run on
// the CPU-only machines this project is developed on.
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <sys/stat.h>

#include "backend.hpp"
#include "errors.hpp"
#include "log.hpp"

namespace vgrt {
namespace {

void check_cuda(cudaError_t status, const std::string& what) {
    if (status != cudaSuccess) fail(VGRT_ERROR_BACKEND, "CUDA: " + what + ": " + cudaGetErrorString(status));
}

class TrtLogger : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char* message) noexcept override {
        vgrt_log_level level = severity <= Severity::kERROR     ? VGRT_LOG_ERROR
                               : severity == Severity::kWARNING ? VGRT_LOG_WARNING
                               : severity == Severity::kINFO    ? VGRT_LOG_INFO
                                                                : VGRT_LOG_DEBUG;
        try {
            vgrt::log(level, std::string("tensorrt: ") + message);
        } catch (...) {
        }
    }
};

nvinfer1::DataType trt_type(DType dtype) {
    switch (dtype) {
        case DType::float32: return nvinfer1::DataType::kFLOAT;
        case DType::float16: return nvinfer1::DataType::kHALF;
        case DType::int64: return nvinfer1::DataType::kINT64;
        case DType::int32: return nvinfer1::DataType::kINT32;
        case DType::uint8: return nvinfer1::DataType::kUINT8;
    }
    return nvinfer1::DataType::kFLOAT;
}

struct DeviceTensor {
    std::string name;
    void* host;
    void* device = nullptr;
    size_t bytes;
    bool input;
};

class TrtBinding : public Binding {
public:
    TrtBinding(std::shared_ptr<Graph> owner, nvinfer1::ICudaEngine& engine, int device)
        : owner_(std::move(owner)), device_(device) {
        check_cuda(cudaSetDevice(device_), "selecting the device");
        context_.reset(engine.createExecutionContext());
        if (!context_) fail(VGRT_ERROR_BACKEND, "TensorRT: cannot create an execution context");
        check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
    }

    ~TrtBinding() override {
        for (DeviceTensor& t : tensors_)
            if (t.device) cudaFree(t.device);
        if (stream_) cudaStreamDestroy(stream_);
    }

    void add(const TensorSpec& spec, const BufferRef& buffer, bool input) {
        DeviceTensor t{spec.name, buffer.data, nullptr, buffer.bytes, input};
        check_cuda(cudaMalloc(&t.device, t.bytes), "allocating " + spec.name);
        tensors_.push_back(t);
        if (!context_->setTensorAddress(spec.name.c_str(), t.device))
            fail(VGRT_ERROR_BACKEND, "TensorRT: cannot set the address of " + spec.name);
    }

    void run() override {
        check_cuda(cudaSetDevice(device_), "selecting the device");
        for (const DeviceTensor& t : tensors_)
            if (t.input)
                check_cuda(cudaMemcpyAsync(t.device, t.host, t.bytes, cudaMemcpyHostToDevice, stream_), "copy " + t.name);
        if (!context_->enqueueV3(stream_)) fail(VGRT_ERROR_BACKEND, "TensorRT: enqueueV3 failed");
        for (const DeviceTensor& t : tensors_)
            if (!t.input)
                check_cuda(cudaMemcpyAsync(t.host, t.device, t.bytes, cudaMemcpyDeviceToHost, stream_), "copy " + t.name);
        check_cuda(cudaStreamSynchronize(stream_), "synchronising");
    }

private:
    std::shared_ptr<Graph> owner_;  // the engine outlives its contexts
    int device_;
    std::unique_ptr<nvinfer1::IExecutionContext> context_;
    cudaStream_t stream_ = nullptr;
    std::vector<DeviceTensor> tensors_;
};

class TrtGraph : public Graph, public std::enable_shared_from_this<TrtGraph> {
public:
    TrtGraph(nvinfer1::IRuntime& runtime, const std::string& plan, const GraphSpec& spec, int device)
        : spec_(spec), device_(device) {
        std::ifstream file(plan, std::ios::binary);
        if (!file) bundle_error(plan + ": cannot open the TensorRT engine");
        std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        check_cuda(cudaSetDevice(device_), "selecting the device");
        engine_.reset(runtime.deserializeCudaEngine(bytes.data(), bytes.size()));
        if (!engine_)
            fail(VGRT_ERROR_BACKEND, plan + ": TensorRT could not deserialise the engine (built for another GPU or "
                                            "TensorRT version? rebuild it with vidgen_rt.export.tensorrt)");
        validate(plan);
    }

    std::unique_ptr<Binding> bind(const std::vector<BufferRef>& inputs, const std::vector<BufferRef>& outputs) override {
        auto binding = std::make_unique<TrtBinding>(shared_from_this(), *engine_, device_);
        for (const TensorSpec& t : spec_.inputs) binding->add(t, find_buffer(inputs, t), true);
        for (const TensorSpec& t : spec_.outputs) binding->add(t, find_buffer(outputs, t), false);
        return binding;
    }

private:
    void validate(const std::string& plan) {
        const int32_t count = engine_->getNbIOTensors();
        if (size_t(count) != spec_.inputs.size() + spec_.outputs.size())
            bundle_error(plan + ": the engine has " + std::to_string(count) + " tensors, manifest.json's " + spec_.kind +
                         " graph has " + std::to_string(spec_.inputs.size() + spec_.outputs.size()));
        auto check = [&](const TensorSpec& t, bool input) {
            const char* name = t.name.c_str();
            nvinfer1::TensorIOMode mode = engine_->getTensorIOMode(name);
            if (mode != (input ? nvinfer1::TensorIOMode::kINPUT : nvinfer1::TensorIOMode::kOUTPUT))
                bundle_error(plan + ": the engine has no " + (input ? "input " : "output ") + t.name);
            if (engine_->getTensorDataType(name) != trt_type(t.dtype))
                bundle_error(plan + ": tensor " + t.name + " is not " + dtype_name(t.dtype) + " as manifest.json says");
            nvinfer1::Dims dims = engine_->getTensorShape(name);
            bool same = size_t(dims.nbDims) == t.shape.size();
            for (int32_t i = 0; same && i < dims.nbDims; ++i) same = int64_t(dims.d[i]) == t.shape[size_t(i)];
            if (!same) bundle_error(plan + ": tensor " + t.name + " has another shape than manifest.json says");
        };
        for (const TensorSpec& t : spec_.inputs) check(t, true);
        for (const TensorSpec& t : spec_.outputs) check(t, false);
    }

    GraphSpec spec_;
    int device_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
};

class TrtBackend : public Backend {
public:
    TrtBackend(const Manifest& manifest, const vgrt_model_options& options)
        : manifest_(manifest), device_(options.device_id) {
        int devices = 0;
        if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
            fail(VGRT_ERROR_UNSUPPORTED, "backend \"tensorrt\": no CUDA device is visible to this process");
        if (device_ < 0 || device_ >= devices)
            invalid("device_id " + std::to_string(device_) + ": this machine has " + std::to_string(devices) + " CUDA device(s)");
        runtime_.reset(nvinfer1::createInferRuntime(logger_));
        if (!runtime_) fail(VGRT_ERROR_BACKEND, "TensorRT: createInferRuntime failed");
    }

    std::shared_ptr<Graph> load(const GraphSpec& spec, int batch) override {
        const std::string key = spec.kind + "-b" + std::to_string(batch);
        auto it = manifest_.engines.find(key);
        struct stat info;
        if (it == manifest_.engines.end() || stat(it->second.path.c_str(), &info) != 0)
            fail(VGRT_ERROR_UNSUPPORTED, manifest_.directory + ": no TensorRT engine \"" + key +
                                             "\" (build the engines with vidgen_rt.export.tensorrt.build_engines "
                                             "on this GPU, or use backend \"ort\")");
        return std::make_shared<TrtGraph>(*runtime_, it->second.path, spec, device_);
    }

    std::string name() const override { return "tensorrt"; }
    std::string library() const override { return "libnvinfer (TensorRT " + std::to_string(NV_TENSORRT_MAJOR) + ")"; }

private:
    const Manifest& manifest_;
    int device_;
    TrtLogger logger_;
    std::unique_ptr<nvinfer1::IRuntime> runtime_;
};

}  // namespace

std::unique_ptr<Backend> make_tensorrt_backend(const Manifest& manifest, const vgrt_model_options& options) {
    return std::make_unique<TrtBackend>(manifest, options);
}

}  // namespace vgrt
