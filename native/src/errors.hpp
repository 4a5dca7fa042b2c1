// The runtime's one exception type: a vgrt_status plus a message naming the file, field or value
// at fault. Thrown anywhere inside the core, caught at the C boundary (c_api.cpp) and turned into
// the status code and vgrt_last_error().
#pragma once

#include <stdexcept>
#include <string>

#include "vidgen_rt.h"

namespace vgrt {

class Error : public std::runtime_error {
public:
    Error(vgrt_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    vgrt_status status() const { return status_; }

private:
    vgrt_status status_;
};

[[noreturn]] inline void fail(vgrt_status status, const std::string& message) { throw Error(status, message); }
[[noreturn]] inline void invalid(const std::string& message) { fail(VGRT_ERROR_INVALID_ARGUMENT, message); }
[[noreturn]] inline void bundle_error(const std::string& message) { fail(VGRT_ERROR_BUNDLE, message); }

}  // namespace vgrt
