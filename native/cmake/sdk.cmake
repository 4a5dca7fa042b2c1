# Install rules of libvidgen_rt and its SDK files (included by CMakeLists.txt; its top comment shows
# the installed tree). The CMake package and pkg-config files are configured twice from one
# template each: for `cmake --install` (CMAKE_INSTALL_LIBDIR, CMAKE_INSTALL_INCLUDEDIR) and, in a
# wheel, for the lib/ + include/ tree `vidgen sdk` writes. Both locate everything relative to
# themselves, so an installed SDK can be moved.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Configures vidgen_rtConfig.cmake, its version file and vidgen_rt.pc into `out` for a prefix whose
# libraries are in `libdir` and headers in `includedir` (both relative to the prefix).
function(vgrt_configure_sdk_files out libdir includedir)
  set(VGRT_SDK_LIBDIR "${libdir}")
  set(VGRT_SDK_INCLUDEDIR "${includedir}")
  configure_package_config_file("${CMAKE_CURRENT_SOURCE_DIR}/native/cmake/vidgen_rtConfig.cmake.in"
    "${out}/vidgen_rtConfig.cmake"
    INSTALL_DESTINATION "${libdir}/cmake/vidgen_rt"
    PATH_VARS VGRT_SDK_LIBDIR VGRT_SDK_INCLUDEDIR
    NO_SET_AND_CHECK_MACRO)
  write_basic_package_version_file("${out}/vidgen_rtConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
  file(RELATIVE_PATH VGRT_PC_TO_PREFIX "/prefix/${libdir}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" VGRT_PC_TO_PREFIX "${VGRT_PC_TO_PREFIX}")
  configure_file("${CMAKE_CURRENT_SOURCE_DIR}/native/cmake/vidgen_rt.pc.in" "${out}/vidgen_rt.pc" @ONLY)
endfunction()

set(VGRT_HEADERS "${CMAKE_CURRENT_SOURCE_DIR}/native/include/vidgen_rt.h"
                 "${CMAKE_CURRENT_SOURCE_DIR}/native/include/vidgen_rt.hpp")

if(SKBUILD)
  # The wheel: the library beside the Python module (its RPATH is $ORIGIN; a wheel keeps no
  # symlinks, so only the soname file), the SDK's other files under vidgen_rt/sdk/.
  install(TARGETS vidgen_rt LIBRARY DESTINATION vidgen_rt NAMELINK_SKIP)
  vgrt_configure_sdk_files("${CMAKE_CURRENT_BINARY_DIR}/sdk-wheel" lib include)
  install(FILES ${VGRT_HEADERS} DESTINATION vidgen_rt/sdk/include)
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk-wheel/vidgen_rt.pc" DESTINATION vidgen_rt/sdk/lib/pkgconfig)
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk-wheel/vidgen_rtConfig.cmake"
                "${CMAKE_CURRENT_BINARY_DIR}/sdk-wheel/vidgen_rtConfigVersion.cmake"
          DESTINATION vidgen_rt/sdk/lib/cmake/vidgen_rt)
  return()
endif()

# ---- cmake --install: the C SDK --------------------------------------------------------------------
set(VGRT_ORT_LIBRARY_FILE "" CACHE FILEPATH
    "libonnxruntime.so.X.Y.Z that `cmake --install` copies beside libvidgen_rt (empty: search for it)")
set(VGRT_ORT_FOUND "${VGRT_ORT_LIBRARY_FILE}")
if(NOT VGRT_ORT_FOUND)
  set(VGRT_ORT_SEARCH "${ONNXRUNTIME_ROOT}/lib")
  # The onnxruntime wheel of the Python the build was pointed at (found without importing it).
  if(Python_EXECUTABLE)
    execute_process(COMMAND "${Python_EXECUTABLE}" -c
        "import importlib.util, pathlib; s = importlib.util.find_spec('onnxruntime'); print(pathlib.Path(s.origin).parent / 'capi' if s and s.origin else '')"
      OUTPUT_VARIABLE VGRT_ORT_CAPI OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND VGRT_ORT_SEARCH "${VGRT_ORT_CAPI}")
  endif()
  file(GLOB VGRT_VENV_CAPI "${CMAKE_CURRENT_SOURCE_DIR}/.venv/lib/python3*/site-packages/onnxruntime/capi")
  list(APPEND VGRT_ORT_SEARCH ${VGRT_VENV_CAPI} /usr/lib/x86_64-linux-gnu /usr/lib /usr/local/lib)
  foreach(directory IN LISTS VGRT_ORT_SEARCH)
    file(GLOB VGRT_ORT_CANDIDATES "${directory}/libonnxruntime.so.*")
    if(VGRT_ORT_CANDIDATES AND directory)
      list(SORT VGRT_ORT_CANDIDATES)
      list(GET VGRT_ORT_CANDIDATES -1 VGRT_ORT_FOUND)
      break()
    endif()
  endforeach()
endif()

install(TARGETS vidgen_rt LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(FILES ${VGRT_HEADERS} DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
vgrt_configure_sdk_files("${CMAKE_CURRENT_BINARY_DIR}/sdk" "${CMAKE_INSTALL_LIBDIR}" "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk/vidgen_rt.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk/vidgen_rtConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/sdk/vidgen_rtConfigVersion.cmake"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/vidgen_rt")

if(VGRT_ORT_FOUND)
  # The real file (the wheel's is versioned only) and its unversioned name, which the runtime's
  # search beside itself tries first.
  get_filename_component(VGRT_ORT_REAL "${VGRT_ORT_FOUND}" REALPATH)
  get_filename_component(VGRT_ORT_NAME "${VGRT_ORT_REAL}" NAME)
  message(STATUS "vidgen_rt: the SDK install copies ONNX Runtime from ${VGRT_ORT_REAL}")
  file(MAKE_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/sdk/ort")
  file(REMOVE "${CMAKE_CURRENT_BINARY_DIR}/sdk/ort/libonnxruntime.so")
  file(CREATE_LINK "${VGRT_ORT_NAME}" "${CMAKE_CURRENT_BINARY_DIR}/sdk/ort/libonnxruntime.so" SYMBOLIC)
  install(FILES "${VGRT_ORT_REAL}" "${CMAKE_CURRENT_BINARY_DIR}/sdk/ort/libonnxruntime.so"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}")
else()
  install(CODE "message(FATAL_ERROR \"vidgen_rt: no libonnxruntime.so.* to install beside libvidgen_rt: \"
                \"pass -DVGRT_ORT_LIBRARY_FILE=/path/to/libonnxruntime.so.X.Y.Z, or -DPython_EXECUTABLE= a \"
                \"Python with the onnxruntime package\")")
endif()
