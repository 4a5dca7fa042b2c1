// vidgen_rt._native: the pybind11 module through which Python reaches the C++ runtime. It reports
// the version it was built as (the same string as vidgen_rt.__version__, passed in by CMake) and
// how it was built, so a mismatched or stale binary is visible at a glance (`vidgen_rt._native.
// build_info()`), and binds the runtime through the C++ wrapper of the C ABI (vidgen_rt.hpp):
// Model and Stream, the GIL released while C++ works, frames handed to numpy without a copy (the
// array's base capsule owns the runtime frame and releases it when the array goes). A bundle is a
// directory path (str) or a packed bundle's bytes (any contiguous bytes-like object, read in place
// while the GIL is released). The Python face users see is vidgen_rt.runtime.native (Runtime, Stream).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "python_convert.hpp"
#include "vidgen_rt.hpp"

namespace py = pybind11;

namespace {

using namespace vgrt_python;

// The C++ standard the compiler actually used (from __cplusplus), not the one requested.
std::string cxx_standard() {
    constexpr long standard = __cplusplus;
    if (standard > 202002L) return "c++23";
    if (standard > 201703L) return "c++20";
    if (standard > 201402L) return "c++17";
    return "c++14 or older";
}

py::dict build_info() {
    py::dict info;
    info["version"] = VGRT_VERSION;
    info["compiler_id"] = VGRT_COMPILER_ID;
    info["compiler_version"] = VGRT_COMPILER_VERSION;
    info["cxx_standard"] = cxx_standard();
    info["build_type"] = VGRT_BUILD_TYPE;
    info["pybind11_version"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." +
                               std::to_string(PYBIND11_VERSION_MINOR) + "." +
                               std::to_string(PYBIND11_VERSION_PATCH);
    info["runtime_version"] = vgrt_version();
    info["abi_version"] = vgrt_abi_version();
    py::list backends;  // the native backends compiled in (CMakeLists.txt finds their headers)
    backends.append("ort");
#ifdef VGRT_WITH_OPENVINO
    backends.append("openvino");
#endif
#ifdef VGRT_WITH_TENSORRT
    backends.append("tensorrt");
#endif
    info["backends"] = backends;
    return info;
}

class PySnapshot {
public:
    explicit PySnapshot(vidgen_rt::Snapshot snapshot) : snapshot_(std::move(snapshot)) {}
    const vidgen_rt::Snapshot& get() const { return snapshot_; }

private:
    vidgen_rt::Snapshot snapshot_;
};

class PyStream {
public:
    PyStream(const vidgen_rt::Model& model, int batch, const std::optional<py::object>& frames,
             const std::optional<py::object>& actions, const std::optional<py::object>& cond,
             const std::optional<py::object>& guide, uint64_t seed, float temperature, int32_t sampling_steps) {
        Inputs inputs;
        vgrt_stream_options options = vgrt_stream_options_default();
        options.batch = batch;
        options.seed = seed;
        options.temperature = temperature;
        options.sampling_steps = sampling_steps;
        options.context = inputs.set_context(frames, actions, cond, guide);
        py::gil_scoped_release release;
        stream_ = std::make_unique<vidgen_rt::Stream>(model, options);
    }

    int batch() const { return stream().batch(); }

    py::object step(const py::object& actions, const std::optional<py::object>& cond,
                    const std::optional<py::object>& guide) {
        I64 a = I64::ensure(actions);
        if (!a) throw py::error_already_set();
        Inputs inputs;
        inputs.set_conditions(cond, guide);
        vidgen_rt::Frame frame;
        {
            py::gil_scoped_release release;
            frame = stream().step(a.data(), size_t(a.size()), &inputs.conditions);
        }
        return frame_array(std::move(frame));
    }

    void reset(const std::optional<py::object>& frames, const std::optional<py::object>& actions,
               const std::optional<py::object>& cond, const std::optional<py::object>& guide) {
        Inputs inputs;
        const vgrt_context* context = inputs.set_context(frames, actions, cond, guide);
        py::gil_scoped_release release;
        stream().reset(context);
    }

    void start(double fps) {
        py::gil_scoped_release release;
        stream().start(fps);
    }

    void stop() {
        py::gil_scoped_release release;
        stream().stop();
    }

    bool running() const { return stream().running(); }

    void push_action(const py::object& actions) {
        I64 a = I64::ensure(actions);
        if (!a) throw py::error_already_set();
        stream().push_action(a.data(), size_t(a.size()));
    }

    void set_conditions(const std::optional<py::object>& cond, const std::optional<py::object>& guide) {
        Inputs inputs;
        inputs.set_conditions(cond, guide);
        stream().set_conditions(inputs.conditions);
    }

    py::object latest() { return frame_tuple(stream().acquire_latest()); }

    py::object wait_frame(int32_t timeout_ms) {
        vidgen_rt::Frame frame;
        {
            py::gil_scoped_release release;
            frame = stream().wait_frame(timeout_ms);
        }
        return frame_tuple(std::move(frame));
    }

    static py::object frame_tuple(vidgen_rt::Frame frame) {
        if (!frame) return py::none();
        const vgrt_frame* f = frame.get();
        py::tuple actions(size_t(f->batch));
        for (int32_t b = 0; b < f->batch; ++b) actions[size_t(b)] = f->actions[b];
        uint64_t index = f->index;
        return py::make_tuple(index, frame_array(std::move(frame)), actions);
    }

    PySnapshot snapshot() {
        py::gil_scoped_release release;
        return PySnapshot(stream().snapshot());
    }

    void restore(const PySnapshot& snapshot) {
        py::gil_scoped_release release;
        stream().restore(snapshot.get());
    }

    void set_sampling(uint64_t seed, float temperature, int32_t sampling_steps) {
        stream().set_sampling(seed, temperature, sampling_steps);
    }

    py::dict sampling() const {
        vidgen_rt::Stream::Sampling s = stream().sampling();
        py::dict d;
        d["seed"] = s.seed;
        d["temperature"] = s.temperature;
        d["sampling_steps"] = s.sampling_steps;
        return d;
    }

    void set_postprocess(float brightness, float contrast, float gamma, float sharpen) {
        vgrt_postprocess params = vgrt_postprocess_default();
        params.brightness = brightness;
        params.contrast = contrast;
        params.gamma = gamma;
        params.sharpen = sharpen;
        stream().set_postprocess(params);
    }

    py::dict postprocess() const { return postprocess_dict(stream().postprocess()); }

    py::dict stats() const {
        vgrt_stats s = stream().stats();
        py::dict d;
        d["frames"] = s.frames;
        d["dropped_frames"] = s.dropped_frames;
        d["window"] = s.window;
        d["fps"] = s.fps;
        d["step"] = latency(s.step);
        d["decode"] = latency(s.decode);
        d["total"] = latency(s.total);
        return d;
    }

    void close() {
        py::gil_scoped_release release;
        stream_.reset();
    }

    bool closed() const { return !stream_; }

private:
    vidgen_rt::Stream& stream() const {
        if (!stream_) throw vidgen_rt::Error(VGRT_ERROR_INVALID_HANDLE, "the stream is closed");
        return *stream_;
    }

    std::unique_ptr<vidgen_rt::Stream> stream_;
};

class PyModel {
public:
    // `source`: a bundle directory (str) or a packed bundle's bytes.
    PyModel(const py::object& source, int intra_op_threads, const std::string& provider, const std::string& backend,
            const std::string& ort_library, const std::string& ort_search_dir, bool allow_spinning, int device_id,
            bool verify_checksums, const std::string& compute_precision, const std::string& openvino_library,
            const std::string& openvino_search_dir) {
        vgrt_model_options options = vgrt_model_options_default();
        options.intra_op_threads = intra_op_threads;
        options.provider = provider.c_str();
        options.backend = backend.c_str();
        options.ort_library = ort_library.c_str();
        options.ort_search_dir = ort_search_dir.c_str();
        options.allow_spinning = allow_spinning ? 1 : 0;
        options.device_id = device_id;
        options.verify_checksums = verify_checksums ? 1 : 0;
        options.compute_precision = compute_precision.c_str();
        options.openvino_library = openvino_library.c_str();
        options.openvino_search_dir = openvino_search_dir.c_str();
        if (py::isinstance<py::str>(source)) {
            const std::string path = source.cast<std::string>();
            py::gil_scoped_release release;
            model_ = std::make_unique<vidgen_rt::Model>(path, options);
            return;
        }
        BytesView bytes(source);
        py::gil_scoped_release release;
        model_ = std::make_unique<vidgen_rt::Model>(vidgen_rt::Model::open_memory(bytes.data(), bytes.size(), options));
    }

    std::string manifest() const { return model_->manifest(); }

    py::dict info() const {
        vgrt_model_info i = model_->info();
        py::dict d;
        d["name"] = std::string(i.name);
        d["precision"] = std::string(i.precision);
        d["backend"] = std::string(i.backend);
        d["backend_library"] = model_->backend_library();
        d["height"] = i.height;
        d["width"] = i.width;
        d["default_action"] = i.default_action;
        d["cond_dim"] = i.cond_dim;
        d["guide_channels"] = i.guide_channels;
        d["context_frames"] = i.context_frames;
        d["window"] = i.window;
        py::list sizes, names;
        py::dict keys;
        for (int32_t b = 0; b < i.batch_size_count; ++b) sizes.append(i.batch_sizes[b]);
        for (int32_t a = 0; a < i.action_count; ++a) {
            auto [name, bound] = model_->action(a);
            names.append(name);
            keys[py::str(name)] = bound;
        }
        d["batch_sizes"] = sizes;
        d["actions"] = names;
        d["key_bindings"] = keys;
        d["postprocess"] = postprocess_dict(i.postprocess);
        d["head"] = std::string(i.head);
        d["sampling_steps"] = i.sampling_steps;
        d["max_sampling_steps"] = i.max_sampling_steps;
        return d;
    }

    std::unique_ptr<PyStream> open_stream(int batch, const std::optional<py::object>& frames,
                                          const std::optional<py::object>& actions, const std::optional<py::object>& cond,
                                          const std::optional<py::object>& guide, uint64_t seed, float temperature,
                                          int32_t sampling_steps) {
        return std::make_unique<PyStream>(*model_, batch, frames, actions, cond, guide, seed, temperature, sampling_steps);
    }

private:
    std::unique_ptr<vidgen_rt::Model> model_;
};

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "vidgen_rt native runtime (C++17): Model and Stream over libvidgen_rt's C ABI.";
    m.def("version", [] { return std::string(VGRT_VERSION); },
          "The version this module was built as; equals vidgen_rt.__version__.");
    m.def("build_info", &build_info,
          "How this module was built: version, compiler_id, compiler_version, cxx_standard, "
          "build_type, pybind11_version, runtime_version, abi_version.");

    // Runtime errors become vidgen_rt.errors types: BUNDLE -> BundleError, INVALID_ARGUMENT ->
    // ConfigError, anything else -> NativeError (a VidgenError too), each with the runtime's message.
    py::object errors = py::module_::import("vidgen_rt.errors");
    static py::exception<vidgen_rt::Error> native_error(m, "NativeError", errors.attr("VidgenError").ptr());
    py::register_exception_translator([](std::exception_ptr pointer) {
        try {
            if (pointer) std::rethrow_exception(pointer);
        } catch (const vidgen_rt::Error& error) {
            py::object errors = py::module_::import("vidgen_rt.errors");
            const char* kind = error.status() == VGRT_ERROR_BUNDLE             ? "BundleError"
                               : error.status() == VGRT_ERROR_INVALID_ARGUMENT ? "ConfigError"
                                                                               : nullptr;
            PyObject* type = kind ? errors.attr(kind).ptr() : native_error.ptr();
            PyErr_SetString(type, error.what());
        }
    });

    m.def(
        "read_bundle",
        [](const py::object& source, bool verify_checksums) {
            if (py::isinstance<py::str>(source)) {
                const std::string path = source.cast<std::string>();
                py::gil_scoped_release release;
                return vidgen_rt::check_bundle(path, verify_checksums);
            }
            BytesView bytes(source);
            py::gil_scoped_release release;
            return vidgen_rt::check_bundle_memory(bytes.data(), bytes.size(), verify_checksums);
        },
        py::arg("source"), py::arg("verify_checksums") = true,
        "Validates a bundle, a directory path (vgrt_bundle_check) or a packed bundle's bytes "
        "(vgrt_bundle_check_memory): every bundle rule, sha256 unless verify_checksums is False. Returns "
        "the manifest.json text it accepted; BundleError otherwise.");

    py::class_<PySnapshot>(m, "Snapshot",
                           "A stream's saved state (KV ring, lags, latents, frame and draw index, sampling options).");

    py::class_<PyStream>(m, "Stream")
        .def_property_readonly("batch", &PyStream::batch)
        .def_property_readonly("running", &PyStream::running)
        .def_property_readonly("closed", &PyStream::closed)
        .def("step", &PyStream::step, py::arg("actions"), py::arg("cond") = py::none(), py::arg("guide") = py::none())
        .def("reset", &PyStream::reset, py::arg("frames") = py::none(), py::arg("actions") = py::none(),
             py::arg("cond") = py::none(), py::arg("guide") = py::none())
        .def("start", &PyStream::start, py::arg("fps") = 0.0)
        .def("stop", &PyStream::stop)
        .def("push_action", &PyStream::push_action, py::arg("actions"))
        .def("set_conditions", &PyStream::set_conditions, py::arg("cond") = py::none(), py::arg("guide") = py::none())
        .def("latest", &PyStream::latest)
        .def("wait_frame", &PyStream::wait_frame, py::arg("timeout_ms"))
        .def("snapshot", &PyStream::snapshot)
        .def("restore", &PyStream::restore, py::arg("snapshot"))
        .def("set_sampling", &PyStream::set_sampling, py::arg("seed"), py::arg("temperature"),
             py::arg("sampling_steps"))
        .def("sampling", &PyStream::sampling)
        .def("set_postprocess", &PyStream::set_postprocess, py::arg("brightness"), py::arg("contrast"),
             py::arg("gamma"), py::arg("sharpen"))
        .def("postprocess", &PyStream::postprocess)
        .def("stats", &PyStream::stats)
        .def("close", &PyStream::close);

    py::class_<PyModel>(m, "Model")
        .def(py::init<const py::object&, int, const std::string&, const std::string&, const std::string&,
                      const std::string&, bool, int, bool, const std::string&, const std::string&,
                      const std::string&>(),
             py::arg("source"), py::arg("intra_op_threads") = 0, py::arg("provider") = "cpu", py::arg("backend") = "ort",
             py::arg("ort_library") = "", py::arg("ort_search_dir") = "", py::arg("allow_spinning") = true,
             py::arg("device_id") = 0, py::arg("verify_checksums") = true, py::arg("compute_precision") = "",
             py::arg("openvino_library") = "", py::arg("openvino_search_dir") = "")
        .def("info", &PyModel::info)
        .def("manifest", &PyModel::manifest, "The manifest.json text the model was validated from.")
        .def("open_stream", &PyModel::open_stream, py::arg("batch") = 1, py::arg("frames") = py::none(),
             py::arg("actions") = py::none(), py::arg("cond") = py::none(), py::arg("guide") = py::none(),
             py::arg("seed") = 0, py::arg("temperature") = 1.0f, py::arg("sampling_steps") = 0);
}
