// Runtime messages through the host's callback (see log.hpp).
#include "log.hpp"

#include <cstdio>
#include <mutex>

namespace vgrt {
namespace {

std::mutex g_mutex;
vgrt_log_fn g_callback = nullptr;
void* g_user_data = nullptr;
int g_min_level = VGRT_LOG_WARNING;

}  // namespace

void set_log_callback(vgrt_log_fn callback, void* user_data, int min_level) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_callback = callback;
    g_user_data = user_data;
    g_min_level = min_level;
}

void log(vgrt_log_level level, const std::string& message) {
    // The callback runs under the lock so that a host replacing it never sees a call to the old one
    // after vgrt_set_log_callback returned.
    std::lock_guard<std::mutex> lock(g_mutex);
    if (level < g_min_level) return;
    if (g_callback) {
        g_callback(level, message.c_str(), g_user_data);
        return;
    }
    static const char* const names[] = {"debug", "info", "warning", "error"};
    std::fprintf(stderr, "vidgen_rt %s: %s\n", names[level], message.c_str());
}

}  // namespace vgrt
