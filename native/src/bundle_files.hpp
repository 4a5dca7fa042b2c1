// The file-system half of the bundle validator: every name a manifest lists must be a relative
// path of plain components that resolves, symlinks followed, to a regular file inside the bundle;
// nothing else may sit in the bundle; files are opened with O_NONBLOCK and checked with fstat, so a
// FIFO or device put where a file belongs is refused instead of blocking the reader.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace vgrt {

// realpath(3) as a string; "" when the path does not resolve.
std::string real_path(const std::string& path);

// Refuses `name` unless it is a relative path of ordinary components (no "", ".", "..", no leading
// '/'); `where` ("manifest.json: field 'x'") prefixes the error.
void check_relative_name(const std::string& name, const std::string& where);

// The real path of root/name: it must exist, stay inside `root` after symlinks and be a regular
// file. `root` is a real path (no symlinks, no trailing '/').
std::string resolve_inside(const std::string& root, const std::string& name, const std::string& where);

// The whole content of the regular file `path`, at most `max_bytes`; BUNDLE errors name the path.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes);

// sha256 of the regular file `path`, read in blocks (for files too large to hold, e.g. engines).
std::string sha256_of_file(const std::string& path);

// Refuses any entry below `root` (directories are walked, symlinks are not followed) that is not a
// directory and whose relative path is not in `listed`.
void check_no_extra_files(const std::string& root, const std::set<std::string>& listed);

}  // namespace vgrt
