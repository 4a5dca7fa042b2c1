// The interface every inference backend implements, and the factory that picks one by name.
// A backend loads a bundle's graphs; a Graph binds caller-owned buffers once (addresses fixed for
// the stream's lifetime) and a Binding then runs the graph on whatever those buffers hold, so a
// step allocates nothing and copies nothing it does not have to.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bundle.hpp"
#include "vidgen_rt.h"

namespace vgrt {

struct BufferRef {
    std::string name;
    void* data;
    size_t bytes;
};

class Binding {
public:
    virtual ~Binding() = default;
    virtual void run() = 0;
};

class Graph {
public:
    virtual ~Graph() = default;
    // Every input and output of the graph needs a buffer of exactly its size (by tensor name).
    virtual std::unique_ptr<Binding> bind(const std::vector<BufferRef>& inputs,
                                          const std::vector<BufferRef>& outputs) = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::shared_ptr<Graph> load(const GraphSpec& spec, int batch) = 0;
    virtual std::string name() const = 0;
    virtual std::string library() const = 0;  // the shared library behind it, for diagnostics
};

std::unique_ptr<Backend> make_backend(const Manifest& manifest, const vgrt_model_options& options);
std::unique_ptr<Backend> make_ort_backend(const Manifest& manifest, const vgrt_model_options& options);
#ifdef VGRT_WITH_OPENVINO
std::unique_ptr<Backend> make_openvino_backend(const Manifest& manifest, const vgrt_model_options& options);
#endif
#ifdef VGRT_WITH_TENSORRT
std::unique_ptr<Backend> make_tensorrt_backend(const Manifest& manifest, const vgrt_model_options& options);
#endif

// The buffer named `name` among `buffers`, checked against `spec`'s size; throws INTERNAL.
const BufferRef& find_buffer(const std::vector<BufferRef>& buffers, const TensorSpec& spec);

}  // namespace vgrt
