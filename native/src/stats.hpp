// Per-frame timing: a ring of the newest 1024 frames' step, decode and total latencies, from which
// vgrt_stats derives fps and percentiles on demand. Recording is a short critical section with no
// allocation; the percentile sort happens only when a host asks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "vidgen_rt.h"

namespace vgrt {

class Stats {
public:
    static constexpr size_t kWindow = 1024;

    void record(int64_t end_ns, int64_t step_ns, int64_t decode_ns, int64_t total_ns);
    void count_dropped() { dropped_.fetch_add(1, std::memory_order_relaxed); }
    void fill(vgrt_stats& out) const;

private:
    struct Sample {
        int64_t end_ns, step_ns, decode_ns, total_ns;
    };
    mutable std::mutex mutex_;
    std::array<Sample, kWindow> ring_{};
    uint64_t frames_ = 0;
    std::atomic<uint64_t> dropped_{0};
};

int64_t now_ns();

}  // namespace vgrt
