// Runtime-owned frames: a pool of reference-counted slots (a vgrt_frame plus its pixels) that a
// stream fills and hands out, and the latest-frame hand-off of the asynchronous mode. A slot out of
// the pool keeps the pool alive, so frames may outlive their stream; slots return to the pool when
// released and the pool keeps a few for reuse, so a steady loop allocates nothing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "buffer.hpp"
#include "vidgen_rt.h"

namespace vgrt {

class FramePool;

struct FrameSlot {
    vgrt_frame frame{};
    AlignedBuffer rgba;
    std::vector<int64_t> actions;
    std::atomic<int> refs{0};
    std::shared_ptr<FramePool> pool;
};

class FramePool : public std::enable_shared_from_this<FramePool> {
public:
    FramePool(int batch, int height, int width) : batch_(batch), height_(height), width_(width) {}
    ~FramePool();

    FrameSlot* take();  // one reference, owned by the caller
    static void retain(FrameSlot* slot) { slot->refs.fetch_add(1, std::memory_order_relaxed); }
    static void release(FrameSlot* slot);

private:
    void give_back(FrameSlot* slot);

    int batch_, height_, width_;
    std::mutex mutex_;
    std::vector<FrameSlot*> free_;
};

// The asynchronous hand-off: the producer publishes, the host acquires the newest frame.
class LatestFrame {
public:
    ~LatestFrame() { clear(); }
    // Takes over the caller's reference; returns whether an unacquired frame was replaced.
    bool publish(FrameSlot* slot);
    FrameSlot* acquire();  // the newest unacquired frame (the caller's reference) or nullptr
    // As acquire(), waiting up to `timeout_ms` for a frame to be published.
    FrameSlot* acquire_wait(int timeout_ms);
    void clear();

private:
    std::mutex mutex_;
    std::condition_variable published_;
    FrameSlot* latest_ = nullptr;
};

// Host-held frames, so a double or foreign vgrt_frame_release is caught instead of corrupting.
void register_user_frame(FrameSlot* slot);
bool release_user_frame(const vgrt_frame* frame);

}  // namespace vgrt
