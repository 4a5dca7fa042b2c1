// Finding a backend's shared library at run time (see shared_library.hpp).
#include "shared_library.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdlib>

namespace vgrt {

std::vector<std::string> libraries_in(const std::string& directory, const std::string& prefix) {
    std::vector<std::string> names;
    if (DIR* dir = opendir(directory.c_str())) {
        while (dirent* entry = readdir(dir)) {
            std::string name = entry->d_name;
            if (name.rfind(prefix, 0) == 0) names.push_back(name);
        }
        closedir(dir);
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> paths;
    for (const std::string& name : names) paths.push_back(directory + "/" + name);
    return paths;
}

std::string own_directory() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 || !info.dli_fname) return {};
    const std::string path = info.dli_fname;
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::vector<std::string> library_attempts(const char* explicit_path, const char* variable, const std::string& prefix,
                                          const char* search_dir, const std::vector<std::string>& system_names) {
    if (explicit_path && *explicit_path) return {explicit_path};
    const char* value = std::getenv(variable);
    if (value && *value) return {value};
    std::vector<std::string> attempts = libraries_in(own_directory(), prefix);
    if (search_dir && *search_dir) {
        std::vector<std::string> more = libraries_in(search_dir, prefix);
        attempts.insert(attempts.end(), more.begin(), more.end());
    }
    attempts.insert(attempts.end(), system_names.begin(), system_names.end());
    return attempts;
}

std::string loaded_path(void* handle, const std::string& fallback) {
    struct link_map* map = nullptr;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
    return fallback;
}

}  // namespace vgrt
