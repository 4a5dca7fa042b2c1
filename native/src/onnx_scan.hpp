// A reader of the few things the bundle validator needs from a serialized ONNX ModelProto, walking
// the protobuf wire format directly (no protobuf or onnx library): the main graph's inputs and
// outputs (name, element type, dimensions) and whether any tensor keeps its data outside the file.
// A bundle's graphs embed every weight, so external data (which could name any file on disk) is
// refused. Malformed bytes (a truncated or foreign file) give "not a valid ONNX model".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vgrt {

struct OnnxValue {
    std::string name;
    int32_t elem_type = 0;       // TensorProto.DataType: 1 float, 2 uint8, 7 int64, 10 float16
    std::vector<int64_t> dims;   // -1 for a symbolic or unknown dimension
};

struct OnnxSignature {
    std::vector<OnnxValue> inputs, outputs;
};

// Throws vgrt::Error (BUNDLE) naming `path`.
OnnxSignature read_onnx_signature(const std::string& path, const uint8_t* data, size_t size);

}  // namespace vgrt
