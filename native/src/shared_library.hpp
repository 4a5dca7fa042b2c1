// Finding a backend's shared library at run time: the ONNX Runtime and OpenVINO backends dlopen()
// theirs (never link them) from the same kinds of places — an explicit path, a directory beside
// libvidgen_rt.so (an installed SDK), a directory the Python layer passes (a wheel's folder of
// libraries), the system loader — and report the file the loader actually chose.
#pragma once

#include <dlfcn.h>

#include <map>
#include <string>
#include <vector>

namespace vgrt {

// Files in `directory` whose names start with `prefix` ("libonnxruntime.so"), sorted, so the
// unversioned name comes before its versioned ones; empty when the directory cannot be read.
std::vector<std::string> libraries_in(const std::string& directory, const std::string& prefix);

// The directory libvidgen_rt.so itself was loaded from ("" when the loader cannot say).
std::string own_directory();

// The paths to try in order: `explicit_path` alone when set, else $`variable` alone when set, else
// the `prefix`* files beside libvidgen_rt.so, then those in `search_dir`, then `system_names` for the
// loader's own search.
std::vector<std::string> library_attempts(const char* explicit_path, const char* variable, const std::string& prefix,
                                          const char* search_dir, const std::vector<std::string>& system_names);

// The path the loader resolved for `handle` (a bare name becomes the file found), else `fallback`.
std::string loaded_path(void* handle, const std::string& fallback);

// dlopen()s `attempts` in order and returns the first library `adopt` accepts, remembered in `loaded`
// by the path asked for (never unloaded, as ONNX Runtime and OpenVINO require). `adopt(handle,
// library)` gets `library` with its `path` set, fills the rest and returns "" — or why this file
// cannot serve, which goes into `tried` as one "\n  path: why" line (the file is closed again), as
// does a dlopen() failure. nullptr when no attempt served.
template <class Library, class Adopt>
Library* open_first(std::map<std::string, Library>& loaded, const std::vector<std::string>& attempts,
                    Adopt&& adopt, std::string& tried) {
    for (const std::string& path : attempts) {
        auto known = loaded.find(path);
        if (known != loaded.end()) return &known->second;
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* why = dlerror();
            tried += "\n  " + path + ": " + (why ? why : "not found");
            continue;
        }
        Library library;
        library.path = loaded_path(handle, path);
        const std::string why = adopt(handle, library);
        if (!why.empty()) {
            tried += "\n  " + path + ": " + why;
            dlclose(handle);
            continue;
        }
        return &loaded.emplace(path, std::move(library)).first->second;
    }
    return nullptr;
}

}  // namespace vgrt
