// Frame slots, their pool and the latest-frame hand-off (see frames.hpp).
#include "frames.hpp"

#include <chrono>
#include <unordered_map>

namespace vgrt {
namespace {

constexpr size_t kKeepFree = 8;

std::mutex g_user_mutex;
std::unordered_map<const vgrt_frame*, FrameSlot*>& user_frames() {
    static auto* frames = new std::unordered_map<const vgrt_frame*, FrameSlot*>();  // outlives every static
    return *frames;
}

}  // namespace

FramePool::~FramePool() {
    for (FrameSlot* slot : free_) delete slot;
}

FrameSlot* FramePool::take() {
    FrameSlot* slot = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        }
    }
    if (!slot) {
        slot = new FrameSlot();
        slot->rgba = AlignedBuffer(size_t(batch_) * size_t(height_) * size_t(width_) * 4);
        slot->actions.assign(size_t(batch_), -1);
        slot->frame.batch = batch_;
        slot->frame.height = height_;
        slot->frame.width = width_;
        slot->frame.channels = 4;
        slot->frame.rgba = slot->rgba.data();
        slot->frame.rgba_size = slot->rgba.size();
        slot->frame.actions = slot->actions.data();
    }
    slot->refs.store(1, std::memory_order_relaxed);
    slot->pool = shared_from_this();
    return slot;
}

void FramePool::release(FrameSlot* slot) {
    if (!slot || slot->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::shared_ptr<FramePool> pool = std::move(slot->pool);  // may be the pool's last owner
    pool->give_back(slot);
}

void FramePool::give_back(FrameSlot* slot) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.size() < kKeepFree) free_.push_back(slot);
    else delete slot;
}

bool LatestFrame::publish(FrameSlot* slot) {
    FrameSlot* old;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        old = latest_;
        latest_ = slot;
    }
    published_.notify_all();
    FramePool::release(old);
    return old != nullptr;
}

FrameSlot* LatestFrame::acquire_wait(int timeout_ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    published_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return latest_ != nullptr; });
    FrameSlot* slot = latest_;
    latest_ = nullptr;
    return slot;
}

FrameSlot* LatestFrame::acquire() {
    std::lock_guard<std::mutex> lock(mutex_);
    FrameSlot* slot = latest_;
    latest_ = nullptr;
    return slot;
}

void LatestFrame::clear() { FramePool::release(acquire()); }

void register_user_frame(FrameSlot* slot) {
    std::lock_guard<std::mutex> lock(g_user_mutex);
    user_frames()[&slot->frame] = slot;
}

bool release_user_frame(const vgrt_frame* frame) {
    FrameSlot* slot;
    {
        std::lock_guard<std::mutex> lock(g_user_mutex);
        auto it = user_frames().find(frame);
        if (it == user_frames().end()) return false;
        slot = it->second;
        user_frames().erase(it);
    }
    FramePool::release(slot);
    return true;
}

}  // namespace vgrt
