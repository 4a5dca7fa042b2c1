// Runtime messages: one process-wide callback (vgrt_set_log_callback) with a minimum level; by
// default warnings and errors go to stderr.
#pragma once

#include <string>

#include "vidgen_rt.h"

namespace vgrt {

void set_log_callback(vgrt_log_fn callback, void* user_data, int min_level);
void log(vgrt_log_level level, const std::string& message);

}  // namespace vgrt
