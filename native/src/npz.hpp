// Reading the bundle's context.npz (numpy.savez: an uncompressed zip of .npy files) without numpy:
// the zip central directory (zip64 included), stored entries only, and the .npy header (dtype,
// C order, shape). Every offset and size is checked against the file, so a truncated or hostile
// archive gives an error, never an out-of-bounds read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vgrt {

struct NpyArray {
    std::string dtype;             // numpy descr without byte order: "u1", "i8", "f4", "f2"
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;     // little-endian, C order

    int64_t count() const;
};

// All arrays of an .npz file by name ("frames", not "frames.npy"); throws vgrt::Error (BUNDLE).
std::map<std::string, NpyArray> read_npz(const std::string& path);

}  // namespace vgrt
