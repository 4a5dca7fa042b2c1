// vidgen_rt._native: the pybind11 module through which Python reaches the C++ runtime. It reports
// the version it was built as (the same string as vidgen_rt.__version__, passed in by CMake) and
// how it was built, so a mismatched or stale binary is visible at a glance (`vidgen_rt._native.
// build_info()`), and it is where the runtime's Python face is bound.

#include <pybind11/pybind11.h>

#include <string>

namespace py = pybind11;

namespace {

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
    return info;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "vidgen_rt native runtime (C++17).";
    m.def("version", [] { return std::string(VGRT_VERSION); },
          "The version this module was built as; equals vidgen_rt.__version__.");
    m.def("build_info", &build_info,
          "How this module was built: version, compiler_id, compiler_version, cxx_standard, "
          "build_type, pybind11_version.");
}
