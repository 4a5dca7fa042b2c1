// The asynchronous mode of a Stream (see stream.hpp): a stepping thread paced to a rate, a decoder
// thread one frame behind it, and the action queue that feeds them.
#include <chrono>
#include <cmath>
#include <cstring>

#include "errors.hpp"
#include "log.hpp"
#include "stream.hpp"

namespace vgrt {

bool ActionQueue::push(const int64_t* actions) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (size_ == kCapacity) return false;
    std::memcpy(&rows_[((head_ + size_) % kCapacity) * batch_], actions, batch_ * sizeof(int64_t));
    ++size_;
    return true;
}

bool ActionQueue::pop(int64_t* actions) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (size_ == 0) return false;
    std::memcpy(actions, &rows_[head_ * batch_], batch_ * sizeof(int64_t));
    head_ = (head_ + 1) % kCapacity;
    --size_;
    return true;
}

void ActionQueue::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    head_ = size_ = 0;
}

void Stream::start(double fps) {
    if (!std::isfinite(fps) || fps < 0 || fps > 100000) invalid("fps = " + std::to_string(fps) + ": expected 0 (as fast as possible) or a positive rate");
    std::lock_guard<std::mutex> control(control_mutex_);
    fps_ = fps;
    if (running_) return;
    if (thread_.joinable()) thread_.join();  // a thread that ended on an error
    {
        std::lock_guard<std::mutex> lock(held_mutex_);
        if (manifest_.cond_dim && held_cond_.empty())
            fail(VGRT_ERROR_STATE, "this bundle needs cond every step: call vgrt_stream_set_conditions before start");
        if (manifest_.guide_channels && held_guide_.empty())
            fail(VGRT_ERROR_STATE, "this bundle needs a guide every step: call vgrt_stream_set_conditions before start");
        async_error_.clear();
    }
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        stop_requested_ = false;
    }
    {
        std::lock_guard<std::mutex> lock(decode_mutex_);
        decode_pending_ = decoder_stop_ = false;
        decode_error_.clear();
    }
    running_ = true;
    try {
        decoder_ = std::thread(&Stream::run_decoder, this);
        thread_ = std::thread(&Stream::run_async, this);
    } catch (...) {
        stop_decoder();
        running_ = false;
        throw;
    }
}

void Stream::stop() {
    std::lock_guard<std::mutex> control(control_mutex_);
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        stop_requested_ = true;
    }
    wake_.notify_all();
    thread_.join();
    running_ = false;
}

void Stream::run_async() {
    std::vector<int64_t> actions;
    {
        std::lock_guard<std::mutex> lock(state_mutex_);
        actions = last_actions_;
    }
    for (int64_t& a : actions)
        if (a < 0) a = manifest_.default_action;
    std::vector<uint8_t> cond, guide;
    auto deadline = std::chrono::steady_clock::now();
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            if (stop_requested_) break;
        }
        queue_.pop(actions.data());
        {
            std::lock_guard<std::mutex> lock(held_mutex_);
            cond = held_cond_;  // same size every time: no allocation after the first step
            guide = held_guide_;
        }
        try {
            const int64_t start = now_ns();
            std::lock_guard<std::mutex> lock(state_mutex_);
            const int64_t step_ns = advance(actions.data(), cond.data(), guide.data());
            wait_decoder_idle();  // the previous frame's decode has finished reading latents_
            std::memcpy(latents_.data(), next_latents_.data(), latents_.size());
            ++frame_index_;
            std::copy(actions.begin(), actions.end(), last_actions_.begin());
            {
                std::lock_guard<std::mutex> job(decode_mutex_);
                decode_job_.index = frame_index_;
                decode_job_.actions = actions;  // same size every frame: no allocation after the first
                decode_job_.start_ns = start;
                decode_job_.step_ns = step_ns;
                decode_pending_ = true;
            }
            decode_wake_.notify_all();
        } catch (const std::exception& error) {
            {
                std::lock_guard<std::mutex> lock(held_mutex_);
                async_error_ = error.what();
            }
            log(VGRT_LOG_ERROR, std::string("generation thread stopped: ") + error.what());
            break;
        }
        const double fps = fps_.load();
        if (fps > 0) {
            const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(1.0 / fps));
            deadline += period;
            const auto now = std::chrono::steady_clock::now();
            if (deadline + period < now) deadline = now;  // fell behind: no burst to catch up
            std::unique_lock<std::mutex> lock(wake_mutex_);
            wake_.wait_until(lock, deadline, [this] { return stop_requested_; });
        } else {
            deadline = std::chrono::steady_clock::now();
        }
    }
    stop_decoder();
    {
        std::lock_guard<std::mutex> lock(decode_mutex_);
        if (!decode_error_.empty()) {
            std::lock_guard<std::mutex> held(held_mutex_);
            if (async_error_.empty()) async_error_ = decode_error_;
        }
    }
    running_ = false;
}

void Stream::run_decoder() {
    DecodeJob job;  // reused: assignment keeps the actions' capacity, no allocation per frame
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(decode_mutex_);
            decode_wake_.wait(lock, [this] { return decode_pending_ || decoder_stop_; });
            if (!decode_pending_) return;  // stopping, and every submitted frame is published
            job = decode_job_;
        }
        FrameSlot* slot = pool_->take();
        try {
            const int64_t decode_start = now_ns();
            decode_into(slot->rgba.data());
            const int64_t end = now_ns();
            slot->frame.index = job.index;
            std::copy(job.actions.begin(), job.actions.end(), slot->actions.begin());
            if (latest_.publish(slot)) stats_.count_dropped();
            stats_.record(end, job.step_ns, end - decode_start, end - job.start_ns);
        } catch (const std::exception& error) {
            FramePool::release(slot);
            log(VGRT_LOG_ERROR, std::string("decode thread stopped: ") + error.what());
            std::lock_guard<std::mutex> lock(decode_mutex_);
            decode_error_ = error.what();
            decode_pending_ = false;
            decode_wake_.notify_all();
            return;
        }
        {
            std::lock_guard<std::mutex> lock(decode_mutex_);
            decode_pending_ = false;
        }
        decode_wake_.notify_all();
    }
}

void Stream::wait_decoder_idle() {
    std::unique_lock<std::mutex> lock(decode_mutex_);
    decode_wake_.wait(lock, [this] { return !decode_pending_ || !decode_error_.empty(); });
    if (!decode_error_.empty()) fail(VGRT_ERROR_BACKEND, "decode stage failed: " + decode_error_);
}

void Stream::stop_decoder() {
    {
        std::lock_guard<std::mutex> lock(decode_mutex_);
        decoder_stop_ = true;
    }
    decode_wake_.notify_all();
    if (decoder_.joinable()) decoder_.join();
}

void Stream::push_action(const int64_t* actions, size_t count) {
    check_actions(actions, count);
    if (!queue_.push(actions))
        fail(VGRT_ERROR_STATE, "action queue full (" + std::to_string(ActionQueue::kCapacity) +
                                   " pending): the stream is not running or falls behind");
}

void Stream::set_conditions(const vgrt_conditions* conditions) {
    std::vector<uint8_t> cond, guide;
    stage_conditions(conditions, cond, guide);
    std::lock_guard<std::mutex> lock(held_mutex_);
    held_cond_ = std::move(cond);
    held_guide_ = std::move(guide);
}

FrameSlot* Stream::acquire_latest() {
    {
        std::lock_guard<std::mutex> lock(held_mutex_);
        if (!async_error_.empty() && !running_)
            fail(VGRT_ERROR_BACKEND, "the generation thread stopped: " + async_error_);
    }
    return latest_.acquire();
}

FrameSlot* Stream::wait_frame(int timeout_ms) {
    if (timeout_ms < 0 || timeout_ms > 3600 * 1000)
        invalid("timeout_ms = " + std::to_string(timeout_ms) + ": expected 0 .. 3600000");
    if (!running_) return acquire_latest();  // nothing new would arrive: no wait
    return latest_.acquire_wait(timeout_ms);
}

}  // namespace vgrt
