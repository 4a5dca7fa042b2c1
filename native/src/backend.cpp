// Backend selection by the model options' `backend` name (see backend.hpp).
#include "backend.hpp"

#include "errors.hpp"

namespace vgrt {

std::unique_ptr<Backend> make_backend(const Manifest& manifest, const vgrt_model_options& options) {
    std::string name = options.backend && *options.backend ? options.backend : "ort";
    const std::string precision = options.compute_precision ? options.compute_precision : "";
    if (!precision.empty() && name != "openvino")
        fail(VGRT_ERROR_UNSUPPORTED, "compute_precision \"" + precision + "\": backend \"" + name +
                                         "\" computes in the bundle's precision (" + manifest.precision +
                                         "); backend \"openvino\" computes in bf16");
    if (name == "ort" || name == "onnxruntime") return make_ort_backend(manifest, options);
    if (name == "openvino") {
#ifdef VGRT_WITH_OPENVINO
        return make_openvino_backend(manifest, options);
#else
        fail(VGRT_ERROR_UNSUPPORTED,
             "backend \"openvino\": this libvidgen_rt was built without OpenVINO's C API headers (pip install "
             "openvino into the Python that builds vidgen_rt, then rebuild: scripts/setup.sh); use backend \"ort\"");
#endif
    }
    if (name == "tensorrt") {
        if (manifest.packed)
            fail(VGRT_ERROR_UNSUPPORTED, "backend \"tensorrt\" loads its engines from a bundle directory (NAME.vgrt); "
                                         "a packed bundle runs on backend \"ort\"");
#ifdef VGRT_WITH_TENSORRT
        return make_tensorrt_backend(manifest, options);
#else
        fail(VGRT_ERROR_UNSUPPORTED,
             "backend \"tensorrt\": this libvidgen_rt was built without TensorRT (configure with "
             "-DVGRT_TENSORRT=ON where NvInfer.h and libnvinfer are installed); use backend \"ort\"");
#endif
    }
    invalid("backend \"" + name + "\": expected \"ort\", \"openvino\" or \"tensorrt\"");
}

const BufferRef& find_buffer(const std::vector<BufferRef>& buffers, const TensorSpec& spec) {
    for (const BufferRef& buffer : buffers) {
        if (buffer.name != spec.name) continue;
        if (buffer.bytes != spec.bytes() || buffer.data == nullptr)
            fail(VGRT_ERROR_INTERNAL, "buffer for tensor \"" + spec.name + "\" holds " + std::to_string(buffer.bytes) +
                                          " bytes, the graph needs " + std::to_string(spec.bytes()));
        return buffer;
    }
    fail(VGRT_ERROR_INTERNAL, "no buffer bound for tensor \"" + spec.name + "\"");
}

}  // namespace vgrt
