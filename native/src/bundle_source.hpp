// Where the bundle validator (bundle_check.cpp) reads a bundle's files from. A directory
// (DirectorySource, bundle_files.cpp) applies the file-system rules: regular files inside the
// bundle only, symlinks that stay inside, no FIFOs or devices. A packed bundle in memory
// (PackSource, pack.cpp) applies the pack's: an intact header and file table, entries 64-byte
// aligned, inside the data and not overlapping. Both refuse a listed file that is missing and any
// file the manifest does not name; every other rule (manifest fields, sha256, ONNX signatures, the
// context) is the validator's, the same for both.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace vgrt {

// A file's bytes: a view into the source's memory, or a buffer read from disk.
struct FileBytes {
    std::vector<uint8_t> owned;
    const uint8_t* data = nullptr;
    size_t size = 0;
};

class BundleSource {
public:
    virtual ~BundleSource() = default;
    // The bundle as messages name it: the directory's real path, or "[packed bundle]".
    virtual const std::string& root() const = 0;
    // The text of manifest.json, at most `max_bytes`.
    virtual std::string manifest_text(uint64_t max_bytes) = 0;
    // Checks that each name in `listed` is a file of the bundle and that the bundle holds nothing
    // else besides manifest.json; `where` names the manifest field of each. Returns each name's path
    // as messages show it (for a directory: the real path graphs and engines load from).
    virtual std::map<std::string, std::string> resolve(const std::map<std::string, std::string>& listed) = 0;
    // File `name` (resolved first), refused when larger than `max_bytes`.
    virtual FileBytes read(const std::string& name, uint64_t max_bytes) = 0;
    // sha256 of file `name`, for files too large to hold at once (TensorRT engines).
    virtual std::string sha256(const std::string& name) = 0;
    // True when file bytes stay valid as long as the source's memory (graphs load from them).
    virtual bool in_memory() const = 0;
};

class DirectorySource : public BundleSource {
public:
    explicit DirectorySource(const std::string& directory);
    const std::string& root() const override { return root_; }
    std::string manifest_text(uint64_t max_bytes) override;
    std::map<std::string, std::string> resolve(const std::map<std::string, std::string>& listed) override;
    FileBytes read(const std::string& name, uint64_t max_bytes) override;
    std::string sha256(const std::string& name) override;
    bool in_memory() const override { return false; }

private:
    std::string root_;
    std::map<std::string, std::string> paths_;
};

// A packed bundle (NAME.vgrtpack; docs/export.md): `size` bytes at `data`, which must outlive it.
class PackSource : public BundleSource {
public:
    PackSource(const uint8_t* data, size_t size);
    const std::string& root() const override { return root_; }
    std::string manifest_text(uint64_t max_bytes) override;
    std::map<std::string, std::string> resolve(const std::map<std::string, std::string>& listed) override;
    FileBytes read(const std::string& name, uint64_t max_bytes) override;
    std::string sha256(const std::string& name) override;
    bool in_memory() const override { return true; }

private:
    struct Entry {
        uint64_t offset = 0, size = 0;
    };
    const Entry& entry(const std::string& name, const std::string& where) const;

    std::string root_ = "[packed bundle]";
    const uint8_t* data_;
    size_t size_;
    std::map<std::string, Entry> entries_;
};

}  // namespace vgrt
