// PackSource: the bundle validator's view of a packed bundle held in memory (bundle_source.hpp).
// The format (docs/export.md, "Packed bundles"; written by export/writer.py):
//
//   bytes 0..7    magic "VGRTPACK"
//   bytes 8..11   format version, uint32 little-endian (1)
//   bytes 12..15  zero
//   bytes 16..23  index size in bytes, uint64 little-endian
//   bytes 24..63  zero
//   bytes 64..    the index, JSON: {"files": [{"name": "manifest.json", "offset": 128, "size": 5012}, ...]}
//   then every file at a 64-byte-aligned offset past the index, zero padding between files
//
// Everything here is about the container; what the files must hold is the validator's. A pack
// whose table points past its end (a truncated download), overlaps or misaligns is refused with
// the file and the byte offsets at fault.
#include <algorithm>
#include <cstring>

#include "bundle_files.hpp"
#include "bundle_source.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "sha256.hpp"

namespace vgrt {
namespace {

constexpr char kMagic[8] = {'V', 'G', 'R', 'T', 'P', 'A', 'C', 'K'};
constexpr uint32_t kPackVersion = 1;
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kAlignment = 64;
constexpr uint64_t kMaxIndexBytes = uint64_t(16) << 20;
constexpr uint64_t kMaxFiles = 4096;
constexpr double kMaxInteger = 9007199254740992.0;  // 2^53: every larger JSON number may be rounded

uint64_t read_le(const uint8_t* p, int bytes) {
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
    return value;
}

bool all_zero(const uint8_t* p, size_t count) {
    return std::all_of(p, p + count, [](uint8_t b) { return b == 0; });
}

uint64_t index_integer(const json::Value& entry, const char* key, const std::string& where) {
    const json::Value* value = entry.find(key);
    if (!value || !value->is_number() || value->number() < 0 || value->number() >= kMaxInteger ||
        value->number() != double(uint64_t(value->number())))
        bundle_error(where + ": '" + key + "': expected an integer 0..2^53");
    return uint64_t(value->number());
}

}  // namespace

PackSource::PackSource(const uint8_t* data, size_t size) : data_(data), size_(size) {
    const std::string& r = root_;
    if (size < kHeaderBytes || std::memcmp(data, kMagic, sizeof kMagic) != 0)
        bundle_error(r + ": not a packed bundle (" + std::to_string(size) +
                     " bytes; expected the 64-byte header starting \"VGRTPACK\")");
    const uint32_t version = uint32_t(read_le(data + 8, 4));
    if (version != kPackVersion)
        bundle_error(r + ": pack format version " + std::to_string(version) + "; this runtime reads version " +
                     std::to_string(kPackVersion) + " (re-pack the bundle: vidgen export NAME.vgrt --pack)");
    if (!all_zero(data + 12, 4) || !all_zero(data + 24, kHeaderBytes - 24))
        bundle_error(r + ": header bytes 12..15 and 24..63 must be zero");
    const uint64_t index_size = read_le(data + 16, 8);
    if (index_size == 0 || index_size > kMaxIndexBytes || index_size > size - kHeaderBytes)
        bundle_error(r + ": index of " + std::to_string(index_size) + " bytes does not fit in the " +
                     std::to_string(size) + "-byte pack (truncated?)");
    const uint64_t data_start = kHeaderBytes + index_size;

    json::Value index = json::Value::make_null();
    try {
        index = json::parse(std::string(reinterpret_cast<const char*>(data + kHeaderBytes), size_t(index_size)));
    } catch (const std::exception& error) {
        bundle_error(r + ": index is not valid JSON (" + error.what() + ")");
    }
    const json::Value* files = index.find("files");
    if (!index.is_object() || index.object().size() != 1 || !files || !files->is_array() ||
        files->array().size() > kMaxFiles)
        bundle_error(r + ": index: expected {\"files\": [...]} with at most " + std::to_string(kMaxFiles) + " entries");

    std::vector<std::pair<uint64_t, std::string>> order;  // (offset, name) to find overlaps
    for (size_t i = 0; i < files->array().size(); ++i) {
        const json::Value& item = files->array()[i];
        const std::string where = r + ": index entry " + std::to_string(i);
        const json::Value* name = item.find("name");
        if (!item.is_object() || item.object().size() != 3 || !name || !name->is_string())
            bundle_error(where + ": expected {\"name\", \"offset\", \"size\"}");
        check_relative_name(name->string(), where + ": 'name'");
        Entry entry{index_integer(item, "offset", where), index_integer(item, "size", where)};
        const std::string file = "file \"" + name->string() + "\"";
        if (entry.offset % kAlignment != 0 || entry.offset < data_start)
            bundle_error(where + ": " + file + " at offset " + std::to_string(entry.offset) +
                         ": expected a multiple of 64 after the index (from byte " + std::to_string(data_start) + ")");
        if (entry.offset > size || entry.size > size - entry.offset)
            bundle_error(r + ": " + file + " ends at byte " + std::to_string(entry.offset + entry.size) +
                         ", past the end of the " + std::to_string(size) + "-byte pack (truncated?)");
        if (!entries_.emplace(name->string(), entry).second) bundle_error(where + ": " + file + " is listed twice");
        order.emplace_back(entry.offset, name->string());
    }
    std::sort(order.begin(), order.end());
    for (size_t i = 1; i < order.size(); ++i) {
        const Entry& previous = entries_.at(order[i - 1].second);
        if (previous.offset + previous.size > order[i].first)
            bundle_error(r + ": files \"" + order[i - 1].second + "\" and \"" + order[i].second + "\" overlap");
    }
}

const PackSource::Entry& PackSource::entry(const std::string& name, const std::string& where) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) bundle_error(where + ": file \"" + name + "\" is missing from the pack");
    return it->second;
}

std::string PackSource::manifest_text(uint64_t max_bytes) {
    const Entry& e = entry("manifest.json", root_);
    if (e.size > max_bytes)
        bundle_error(root_ + "/manifest.json: " + std::to_string(e.size) + " bytes, more than the " +
                     std::to_string(max_bytes) + " this file may hold");
    return std::string(reinterpret_cast<const char*>(data_ + e.offset), size_t(e.size));
}

std::map<std::string, std::string> PackSource::resolve(const std::map<std::string, std::string>& listed) {
    std::map<std::string, std::string> paths;
    for (const auto& [name, where] : listed) {
        entry(name, where);
        paths[name] = root_ + "/" + name;
    }
    std::string extra;
    int shown = 0;
    for (const auto& [name, e] : entries_) {
        if (name == "manifest.json" || listed.count(name)) continue;
        if (shown++ < 5) extra += (extra.empty() ? "" : ", ") + name;
    }
    if (!extra.empty()) bundle_error(root_ + ": files not named by manifest.json: " + extra);
    return paths;
}

FileBytes PackSource::read(const std::string& name, uint64_t max_bytes) {
    const Entry& e = entry(name, root_);
    if (e.size > max_bytes)
        bundle_error(root_ + "/" + name + ": " + std::to_string(e.size) + " bytes, more than the " +
                     std::to_string(max_bytes) + " this file may hold");
    FileBytes bytes;
    bytes.data = data_ + e.offset;
    bytes.size = size_t(e.size);
    return bytes;
}

std::string PackSource::sha256(const std::string& name) {
    const Entry& e = entry(name, root_);
    return sha256_hex(data_ + e.offset, size_t(e.size));
}

}  // namespace vgrt
