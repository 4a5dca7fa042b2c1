// ONNX ModelProto scanning for the bundle validator (see onnx_scan.hpp). Field numbers are those
// of onnx/onnx.proto: ModelProto.graph 7; GraphProto node 1, initializer 5, input 11, output 12,
// sparse_initializer 15; NodeProto.attribute 5; AttributeProto t 5, g 6, tensors 10, graphs 11,
// sparse_tensor 22, sparse_tensors 23; TensorProto external_data 13, data_location 14 (EXTERNAL = 1);
// SparseTensorProto values 1, indices 2; ValueInfoProto name 1, type 2; TypeProto.tensor_type 1;
// TypeProto.Tensor elem_type 1, shape 2; TensorShapeProto.dim 1; Dimension dim_value 1, dim_param 2.
#include "onnx_scan.hpp"

#include <stdexcept>

#include "errors.hpp"

namespace vgrt {
namespace {

constexpr int kMaxGraphDepth = 32;  // subgraphs inside If/Loop attributes

struct Malformed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Field {
    uint32_t number = 0;
    int wire = 0;
    uint64_t value = 0;              // varint / fixed value
    const uint8_t* data = nullptr;   // length-delimited payload
    size_t size = 0;
};

// One message's fields in order, bounds-checked.
class Message {
public:
    Message(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

    bool next(Field& field) {
        if (p_ == end_) return false;
        uint64_t tag = varint();
        field.number = uint32_t(tag >> 3);
        field.wire = int(tag & 7);
        if (field.number == 0) throw Malformed("field number 0");
        switch (field.wire) {
            case 0: field.value = varint(); break;
            case 1: field.value = fixed(8); break;
            case 5: field.value = fixed(4); break;
            case 2: {
                uint64_t length = varint();
                if (length > uint64_t(end_ - p_)) throw Malformed("a field runs past the end of the file");
                field.data = p_;
                field.size = size_t(length);
                p_ += length;
                break;
            }
            default: throw Malformed("unsupported wire type " + std::to_string(field.wire));
        }
        return true;
    }

private:
    uint64_t varint() {
        uint64_t out = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_) throw Malformed("the file ends inside a number");
            uint8_t byte = *p_++;
            out |= uint64_t(byte & 0x7f) << shift;
            if (!(byte & 0x80)) return out;
        }
        throw Malformed("a number longer than 10 bytes");
    }

    uint64_t fixed(int bytes) {
        if (end_ - p_ < bytes) throw Malformed("the file ends inside a fixed-size field");
        uint64_t out = 0;
        for (int i = 0; i < bytes; ++i) out |= uint64_t(p_[i]) << (8 * i);
        p_ += bytes;
        return out;
    }

    const uint8_t* p_;
    const uint8_t* end_;
};

Message sub(const Field& field) {
    if (field.wire != 2) throw Malformed("field " + std::to_string(field.number) + " is not a message");
    return Message(field.data, field.size);
}

std::string text(const Field& field) {
    if (field.wire != 2) throw Malformed("field " + std::to_string(field.number) + " is not a string");
    return std::string(reinterpret_cast<const char*>(field.data), field.size);
}

void tensor(Message m, bool& external) {
    for (Field f; m.next(f);)
        if ((f.number == 14 && f.wire == 0 && f.value == 1) || f.number == 13) external = true;
}

void sparse(Message m, bool& external) {
    for (Field f; m.next(f);)
        if (f.number == 1 || f.number == 2) tensor(sub(f), external);
}

void graph(Message m, int depth, OnnxSignature* signature, bool& external);

void attribute(Message m, int depth, bool& external) {
    for (Field f; m.next(f);) {
        if (f.number == 5 || f.number == 10) tensor(sub(f), external);
        else if (f.number == 22 || f.number == 23) sparse(sub(f), external);
        else if (f.number == 6 || f.number == 11) graph(sub(f), depth + 1, nullptr, external);
    }
}

OnnxValue value_info(Message m) {
    OnnxValue value;
    for (Field f; m.next(f);) {
        if (f.number == 1) value.name = text(f);
        if (f.number != 2) continue;
        Message type = sub(f);
        for (Field t; type.next(t);) {
            if (t.number != 1) continue;  // not a tensor type: elem_type stays 0
            Message tensor_type = sub(t);
            for (Field u; tensor_type.next(u);) {
                if (u.number == 1 && u.wire == 0) value.elem_type = int32_t(u.value);
                if (u.number != 2) continue;
                Message shape = sub(u);
                for (Field d; shape.next(d);) {
                    if (d.number != 1) continue;
                    int64_t dim = -1;
                    Message dimension = sub(d);
                    for (Field x; dimension.next(x);)
                        if (x.number == 1 && x.wire == 0) dim = int64_t(x.value);
                    value.dims.push_back(dim);
                }
            }
        }
    }
    return value;
}

void graph(Message m, int depth, OnnxSignature* signature, bool& external) {
    if (depth > kMaxGraphDepth) throw Malformed("subgraphs nested deeper than " + std::to_string(kMaxGraphDepth));
    for (Field f; m.next(f);) {
        if (f.number == 1) {
            Message node = sub(f);
            for (Field a; node.next(a);)
                if (a.number == 5) attribute(sub(a), depth, external);
        } else if (f.number == 5) {
            tensor(sub(f), external);
        } else if (f.number == 15) {
            sparse(sub(f), external);
        } else if (signature && (f.number == 11 || f.number == 12)) {
            (f.number == 11 ? signature->inputs : signature->outputs).push_back(value_info(sub(f)));
        }
    }
}

}  // namespace

OnnxSignature read_onnx_signature(const std::string& path, const uint8_t* data, size_t size) {
    OnnxSignature signature;
    bool external = false, has_graph = false;
    try {
        Message model(data, size);
        for (Field f; model.next(f);) {
            if (f.number != 7) continue;
            if (has_graph) throw Malformed("two main graphs");
            has_graph = true;
            graph(sub(f), 0, &signature, external);
        }
        if (!has_graph || signature.outputs.empty()) throw Malformed("no graph with outputs");
    } catch (const Malformed& error) {
        bundle_error(path + ": not a valid ONNX model (" + error.what() + ")");
    }
    if (external)
        bundle_error(path + ": a tensor keeps its data outside the graph file (ONNX external data); "
                            "bundle graphs embed every weight");
    return signature;
}

}  // namespace vgrt
