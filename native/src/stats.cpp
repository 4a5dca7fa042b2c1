// Frame timing statistics (see stats.hpp).
#include "stats.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

namespace vgrt {
namespace {

vgrt_latency summarise(std::vector<int64_t>& ns) {
    vgrt_latency out{0, 0, 0, 0, 0};
    if (ns.empty()) return out;
    std::sort(ns.begin(), ns.end());
    double sum = 0;
    for (int64_t v : ns) sum += double(v);
    auto at = [&](double q) { return double(ns[std::min(ns.size() - 1, size_t(q * double(ns.size())))]) / 1e6; };
    out.mean_ms = sum / double(ns.size()) / 1e6;
    out.p50_ms = at(0.50);
    out.p90_ms = at(0.90);
    out.p99_ms = at(0.99);
    out.max_ms = double(ns.back()) / 1e6;
    return out;
}

}  // namespace

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void Stats::record(int64_t end_ns, int64_t step_ns, int64_t decode_ns, int64_t total_ns) {
    std::lock_guard<std::mutex> lock(mutex_);
    ring_[frames_ % kWindow] = Sample{end_ns, step_ns, decode_ns, total_ns};
    ++frames_;
}

void Stats::fill(vgrt_stats& out) const {
    std::vector<Sample> samples;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        out.frames = frames_;
        size_t n = size_t(std::min<uint64_t>(frames_, kWindow));
        samples.reserve(n);
        for (size_t i = 0; i < n; ++i) samples.push_back(ring_[(frames_ - n + i) % kWindow]);
    }
    out.dropped_frames = dropped_.load(std::memory_order_relaxed);
    out.window = uint32_t(samples.size());
    out.fps = 0;
    if (samples.size() >= 2) {
        int64_t span = samples.back().end_ns - samples.front().end_ns;
        if (span > 0) out.fps = double(samples.size() - 1) * 1e9 / double(span);
    }
    std::vector<int64_t> step, decode, total;
    for (const Sample& s : samples) {
        step.push_back(s.step_ns);
        decode.push_back(s.decode_ns);
        total.push_back(s.total_ns);
    }
    out.step = summarise(step);
    out.decode = summarise(decode);
    out.total = summarise(total);
}

}  // namespace vgrt
