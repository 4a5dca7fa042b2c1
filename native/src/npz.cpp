// context.npz reader (see npz.hpp).
#include "npz.hpp"

#include <cstring>
#include <fstream>

#include "errors.hpp"

namespace vgrt {
namespace {

constexpr uint64_t kMaxFileBytes = uint64_t(1) << 31;

class Reader {
public:
    Reader(const std::vector<uint8_t>& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

    uint64_t le(uint64_t offset, int width) const {
        if (offset > bytes_.size() || uint64_t(width) > bytes_.size() - offset) corrupt("field past the end");
        uint64_t value = 0;
        for (int i = width - 1; i >= 0; --i) value = (value << 8) | bytes_[offset + i];
        return value;
    }

    [[noreturn]] void corrupt(const std::string& what) const {
        bundle_error(path_ + ": not a readable .npz archive (" + what + ")");
    }

    const std::vector<uint8_t>& bytes_;
    const std::string& path_;
};

struct Entry {
    std::string name;
    uint64_t method, compressed, size, local_offset;
};

std::vector<Entry> central_directory(const Reader& r) {
    const auto& bytes = r.bytes_;
    if (bytes.size() < 22) r.corrupt("too short");
    uint64_t eocd = bytes.size() - 22;
    uint64_t lowest = bytes.size() > 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
    while (r.le(eocd, 4) != 0x06054b50) {
        if (eocd == lowest) r.corrupt("no end of central directory");
        --eocd;
    }
    uint64_t entries = r.le(eocd + 10, 2), offset = r.le(eocd + 16, 4);
    if ((entries == 0xFFFF || offset == 0xFFFFFFFF) && eocd >= 20 && r.le(eocd - 20, 4) == 0x07064b50) {
        uint64_t record = r.le(eocd - 20 + 8, 8);
        if (r.le(record, 4) != 0x06064b50) r.corrupt("bad zip64 end record");
        entries = r.le(record + 32, 8);
        offset = r.le(record + 48, 8);
    }
    if (entries > 4096) r.corrupt("absurd entry count");
    std::vector<Entry> out;
    for (uint64_t i = 0; i < entries; ++i) {
        if (r.le(offset, 4) != 0x02014b50) r.corrupt("bad central directory entry");
        Entry e;
        e.method = r.le(offset + 10, 2);
        e.compressed = r.le(offset + 20, 4);
        e.size = r.le(offset + 24, 4);
        uint64_t name_len = r.le(offset + 28, 2), extra_len = r.le(offset + 30, 2), comment_len = r.le(offset + 32, 2);
        e.local_offset = r.le(offset + 42, 4);
        r.le(offset + 46 + name_len + extra_len, 0);
        e.name.assign(reinterpret_cast<const char*>(bytes.data() + offset + 46), name_len);
        // zip64 extra field: the 64-bit values for exactly those fields saturated above, in order.
        uint64_t extra = offset + 46 + name_len, extra_end = extra + extra_len;
        while (extra + 4 <= extra_end) {
            uint64_t id = r.le(extra, 2), len = r.le(extra + 2, 2);
            if (extra + 4 + len > extra_end) r.corrupt("bad extra field");
            if (id == 0x0001) {
                uint64_t p = extra + 4;
                for (uint64_t* field : {&e.size, &e.compressed, &e.local_offset}) {
                    if (*field != 0xFFFFFFFF) continue;
                    if (p + 8 > extra + 4 + len) r.corrupt("short zip64 field");
                    *field = r.le(p, 8);
                    p += 8;
                }
            }
            extra += 4 + len;
        }
        out.push_back(e);
        offset += 46 + name_len + extra_len + comment_len;
    }
    return out;
}

// The value after `'key':` in a .npy header dict.
std::string header_field(const std::string& header, const std::string& key, const std::string& path) {
    size_t at = header.find("'" + key + "'");
    if (at == std::string::npos) bundle_error(path + ": .npy header has no '" + key + "'");
    at = header.find(':', at);
    if (at == std::string::npos) bundle_error(path + ": malformed .npy header");
    ++at;
    while (at < header.size() && header[at] == ' ') ++at;
    size_t end = at;
    if (at < header.size() && header[at] == '(') end = header.find(')', at);
    else if (at < header.size() && header[at] == '\'') end = header.find('\'', at + 1);
    else end = header.find_first_of(",}", at) - 1;
    if (end == std::string::npos || end < at) bundle_error(path + ": malformed .npy header");
    return header.substr(at, end - at + 1);
}

NpyArray parse_npy(const uint8_t* data, uint64_t size, const std::string& where) {
    if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) bundle_error(where + ": not an .npy array");
    uint64_t header_len, start;
    if (data[6] == 1) { header_len = data[8] | (uint64_t(data[9]) << 8); start = 10; }
    else if (size >= 12) { header_len = data[8] | (uint64_t(data[9]) << 8) | (uint64_t(data[10]) << 16) | (uint64_t(data[11]) << 24); start = 12; }
    else bundle_error(where + ": truncated .npy header");
    if (start + header_len > size) bundle_error(where + ": truncated .npy header");
    std::string header(reinterpret_cast<const char*>(data + start), header_len);
    NpyArray array;
    std::string descr = header_field(header, "descr", where);
    if (descr.size() < 4 || (descr[1] != '<' && descr[1] != '|')) bundle_error(where + ": unsupported dtype " + descr);
    array.dtype = descr.substr(2, descr.size() - 3);
    if (header_field(header, "fortran_order", where) != "False") bundle_error(where + ": Fortran-order array");
    std::string shape = header_field(header, "shape", where);
    int64_t count = 1;
    for (size_t p = 1; p < shape.size();) {
        while (p < shape.size() && (shape[p] == ' ' || shape[p] == ',' || shape[p] == ')')) ++p;
        if (p >= shape.size()) break;
        size_t end = p;
        int64_t dim = 0;
        while (end < shape.size() && shape[end] >= '0' && shape[end] <= '9') {
            dim = dim * 10 + (shape[end] - '0');
            if (dim > (int64_t(1) << 40)) bundle_error(where + ": absurd shape " + shape);
            ++end;
        }
        if (end == p) bundle_error(where + ": malformed shape " + shape);
        array.shape.push_back(dim);
        count *= dim;
        if (count > (int64_t(1) << 40)) bundle_error(where + ": absurd shape " + shape);
        p = end;
    }
    int64_t item = array.dtype == "u1" || array.dtype == "b1" ? 1 : array.dtype == "f2" ? 2
                 : array.dtype == "f4" || array.dtype == "i4" ? 4 : array.dtype == "i8" || array.dtype == "f8" ? 8 : 0;
    if (item == 0) bundle_error(where + ": unsupported dtype " + descr);
    uint64_t bytes = uint64_t(count) * uint64_t(item);
    if (size - start - header_len != bytes)
        bundle_error(where + ": holds " + std::to_string(size - start - header_len) + " data bytes, its shape " +
                     shape + " needs " + std::to_string(bytes));
    array.data.assign(data + start + header_len, data + size);
    return array;
}

}  // namespace

int64_t NpyArray::count() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) bundle_error(path + ": cannot open");
    std::streamoff length = file.tellg();
    if (length < 0 || uint64_t(length) > kMaxFileBytes) bundle_error(path + ": unreadable or larger than 2 GiB");
    std::vector<uint8_t> bytes(static_cast<size_t>(length));
    file.seekg(0);
    if (!file.read(reinterpret_cast<char*>(bytes.data()), length)) bundle_error(path + ": read failed");
    Reader r(bytes, path);
    std::map<std::string, NpyArray> arrays;
    for (const Entry& e : central_directory(r)) {
        if (e.method != 0) bundle_error(path + ": entry " + e.name + " is compressed (write it with numpy.savez)");
        if (e.compressed != e.size) r.corrupt("stored entry with differing sizes");
        if (r.le(e.local_offset, 4) != 0x04034b50) r.corrupt("bad local header");
        uint64_t data = e.local_offset + 30 + r.le(e.local_offset + 26, 2) + r.le(e.local_offset + 28, 2);
        if (data > bytes.size() || e.size > bytes.size() - data) r.corrupt("entry past the end");
        std::string name = e.name;
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
        arrays[name] = parse_npy(bytes.data() + data, e.size, path + ":" + e.name);
    }
    return arrays;
}

}  // namespace vgrt
