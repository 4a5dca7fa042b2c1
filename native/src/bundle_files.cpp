// Bundle paths and file reading for the validator (see bundle_files.hpp), and DirectorySource, the
// validator's view of a bundle directory (bundle_source.hpp).
#include "bundle_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "bundle_source.hpp"
#include "errors.hpp"
#include "sha256.hpp"

namespace vgrt {
namespace {

// Walks at most this deep: a bundle has graphs at the top and context/, engines/ one level down.
constexpr int kMaxDepth = 8;

// An open file descriptor, closed when it goes.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// Opens `path` for reading without following a final symlink and without blocking on a FIFO, and
// checks it is a regular file of at most `max_bytes`; returns the descriptor and its size.
int open_regular(const std::string& path, uint64_t max_bytes, uint64_t& size) {
    int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) bundle_error(path + ": cannot open (" + std::strerror(errno) + ")");
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        bundle_error(path + ": not a regular file (a FIFO, device or directory where a file belongs)");
    }
    if (uint64_t(info.st_size) > max_bytes) {
        close(fd);
        bundle_error(path + ": " + std::to_string(info.st_size) + " bytes, more than the " +
                     std::to_string(max_bytes) + " this file may hold");
    }
    size = uint64_t(info.st_size);
    return fd;
}

void walk(const std::string& root, const std::string& relative, int depth, const std::set<std::string>& listed,
          std::vector<std::string>& extra) {
    const std::string directory = relative.empty() ? root : root + "/" + relative;
    DIR* dir = opendir(directory.c_str());
    if (!dir) bundle_error(directory + ": cannot list the bundle directory (" + std::strerror(errno) + ")");
    std::vector<std::string> names;
    while (dirent* entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
    for (const std::string& name : names) {
        const std::string path = relative.empty() ? name : relative + "/" + name;
        struct stat info;
        if (lstat((root + "/" + path).c_str(), &info) != 0) continue;  // removed while we looked
        if (S_ISDIR(info.st_mode) && depth < kMaxDepth) walk(root, path, depth + 1, listed, extra);
        else if (!S_ISDIR(info.st_mode) && !listed.count(path)) extra.push_back(path);
    }
}

std::string real_directory(const std::string& directory) {
    struct stat info;
    const std::string out = directory.empty() ? "" : real_path(directory);
    const bool found = !out.empty() && stat(out.c_str(), &info) == 0;
    if (found && S_ISREG(info.st_mode))
        bundle_error(directory + ": a file, not a bundle directory (a packed bundle NAME.vgrtpack opens from its "
                                 "bytes: vgrt_model_open_memory)");
    if (!found || !S_ISDIR(info.st_mode)) bundle_error(directory + ": no such bundle directory");
    return out;
}

}  // namespace

std::string real_path(const std::string& path) {
    char* resolved = realpath(path.c_str(), nullptr);
    if (!resolved) return {};
    std::string out(resolved);
    std::free(resolved);
    return out;
}

void check_relative_name(const std::string& name, const std::string& where) {
    bool ok = !name.empty() && name[0] != '/' && name.find('\0') == std::string::npos;
    for (size_t start = 0; ok && start <= name.size();) {
        size_t end = name.find('/', start);
        if (end == std::string::npos) end = name.size();
        const std::string part = name.substr(start, end - start);
        ok = !part.empty() && part != "." && part != "..";
        start = end + 1;
    }
    if (!ok) bundle_error(where + ": expected a relative path inside the bundle directory (got \"" + name + "\")");
}

std::string resolve_inside(const std::string& root, const std::string& name, const std::string& where) {
    check_relative_name(name, where);
    const std::string path = root + "/" + name;
    struct stat info;
    if (lstat(path.c_str(), &info) != 0) bundle_error(where + ": file \"" + name + "\" is missing");
    const std::string resolved = real_path(path);
    if (resolved.empty()) bundle_error(where + ": file \"" + name + "\" is a dangling symlink");
    if (resolved.compare(0, root.size() + 1, root + "/") != 0)
        bundle_error(where + ": file \"" + name + "\" is a symlink that leads outside the bundle (" + resolved + ")");
    if (stat(resolved.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
        bundle_error(where + ": file \"" + name + "\" is not a regular file (a FIFO, device or directory)");
    return resolved;
}

std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes) {
    uint64_t size = 0;
    Fd fd(open_regular(path, max_bytes, size));
    std::vector<uint8_t> data(size);
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd.get(), data.data() + done, size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) bundle_error(path + ": read failed after " + std::to_string(done) + " of " + std::to_string(size) + " bytes");
        done += size_t(got);
    }
    return data;
}

std::string sha256_of_file(const std::string& path) {
    uint64_t size = 0;
    Fd fd(open_regular(path, UINT64_MAX, size));
    Sha256 digest;
    std::vector<uint8_t> block(1 << 20);
    for (;;) {
        ssize_t got = read(fd.get(), block.data(), block.size());
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) bundle_error(path + ": read failed (" + std::strerror(errno) + ")");
        if (got == 0) break;
        digest.update(block.data(), size_t(got));
    }
    return digest.hex();
}

void check_no_extra_files(const std::string& root, const std::set<std::string>& listed) {
    std::vector<std::string> extra;
    walk(root, "", 0, listed, extra);
    if (extra.empty()) return;
    std::sort(extra.begin(), extra.end());
    std::string names;
    for (size_t i = 0; i < extra.size() && i < 5; ++i) names += (i ? ", " : "") + extra[i];
    bundle_error(root + ": files not named by manifest.json: " + names);
}

DirectorySource::DirectorySource(const std::string& directory) : root_(real_directory(directory)) {}

std::string DirectorySource::manifest_text(uint64_t max_bytes) {
    struct stat info;
    if (lstat((root_ + "/manifest.json").c_str(), &info) != 0) bundle_error(root_ + ": not a bundle (no manifest.json)");
    std::vector<uint8_t> bytes = read_regular_file(resolve_inside(root_, "manifest.json", root_), max_bytes);
    return std::string(bytes.begin(), bytes.end());
}

std::map<std::string, std::string> DirectorySource::resolve(const std::map<std::string, std::string>& listed) {
    std::set<std::string> names{"manifest.json"};
    for (const auto& [name, where] : listed) {
        paths_[name] = resolve_inside(root_, name, where);
        names.insert(name);
    }
    check_no_extra_files(root_, names);
    return paths_;
}

FileBytes DirectorySource::read(const std::string& name, uint64_t max_bytes) {
    FileBytes bytes;
    bytes.owned = read_regular_file(paths_.at(name), max_bytes);
    bytes.data = bytes.owned.data();
    bytes.size = bytes.owned.size();
    return bytes;
}

std::string DirectorySource::sha256(const std::string& name) { return sha256_of_file(paths_.at(name)); }

}  // namespace vgrt
