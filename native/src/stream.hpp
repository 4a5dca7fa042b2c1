// A stream: B players sharing one batched step. It owns the buffers its graphs are bound to (frame
// input, latents, actions, conditions, the KV ring and lags, new_kv, decoded frames), so a step
// runs on fixed addresses: fill actions/conditions, run step, push new_kv into the ring, [for a flow
// head: draw the frame's noise bits, run noise, then sample K times], make next_latents current,
// run decode, post-process into the caller's memory or a pooled frame.
// Synchronous steps run on the caller's thread; start() runs them on a generation thread that
// takes queued actions one per step, paces itself, and publishes each frame to the latest-frame
// hand-off. One mutex guards the generation state; it is held for one step at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "buffer.hpp"
#include "frames.hpp"
#include "kv_ring.hpp"
#include "model.hpp"
#include "postprocess.hpp"
#include "stats.hpp"

namespace vgrt {

// A flow head's run-time choices (docs/architecture.md §4); an mse head accepts and ignores them.
struct Sampling {
    uint64_t seed = 0;
    float temperature = 1.0f;
    int32_t steps = 0;  // Euler steps K; 0 asks for the bundle's head.sampling_steps
};

struct Snapshot {
    const Model* model;
    int batch;
    std::vector<uint8_t> cache, lags, latents;
    int64_t next_slot;
    uint64_t frame_index;
    uint64_t draw;  // the noise generator's draw index: restore replays the same noise
    Sampling sampling;
    std::vector<int64_t> actions;
};

// Bounded queue of B-action rows pushed by the host, consumed one row per async step.
class ActionQueue {
public:
    static constexpr size_t kCapacity = 256;
    explicit ActionQueue(int batch) : batch_(size_t(batch)), rows_(kCapacity * size_t(batch)) {}
    bool push(const int64_t* actions);   // false when full
    bool pop(int64_t* actions);          // false when empty
    void clear();

private:
    std::mutex mutex_;
    size_t batch_, head_ = 0, size_ = 0;
    std::vector<int64_t> rows_;
};

class Stream {
public:
    Stream(std::shared_ptr<Model> model, int batch, const vgrt_context* context, const Sampling& sampling);
    ~Stream();

    int batch() const { return batch_; }
    const Model& model() const { return *model_; }

    void reset(const vgrt_context* context);
    void step(const int64_t* actions, size_t count, const vgrt_conditions* conditions, uint8_t* rgba, size_t size);
    FrameSlot* step_acquire(const int64_t* actions, size_t count, const vgrt_conditions* conditions);

    void start(double fps);
    void stop();
    bool running() const { return running_.load(); }
    void push_action(const int64_t* actions, size_t count);
    void set_conditions(const vgrt_conditions* conditions);
    FrameSlot* acquire_latest();
    FrameSlot* wait_frame(int timeout_ms);

    std::unique_ptr<Snapshot> snapshot();
    void restore(const Snapshot& snapshot);
    // Validated, then used from the next generated frame on (also while running asynchronously).
    void set_sampling(const Sampling& sampling);
    Sampling sampling();
    void set_postprocess(const vgrt_postprocess& params);
    vgrt_postprocess postprocess();
    void stats(vgrt_stats& out) const;

private:
    void step_into(const int64_t* actions, size_t count, const vgrt_conditions* conditions, uint8_t* rgba,
                   size_t size, FrameSlot* slot);
    void check_actions(const int64_t* actions, size_t count) const;
    // Validates and converts the conditions into `cond`/`guide` staging (graph dtype).
    void stage_conditions(const vgrt_conditions* conditions, std::vector<uint8_t>& cond, std::vector<uint8_t>& guide) const;
    void reset_locked(const vgrt_context& context);
    Sampling checked(Sampling sampling) const;  // steps 0 resolved; INVALID_ARGUMENT when out of range
    // step + ring update [+ the flow head's sampling]; returns the nanoseconds of the graphs it ran.
    // The new latents wait in next_latents_.
    int64_t advance(const int64_t* actions, const uint8_t* cond, const uint8_t* guide);
    void generate(const int64_t* actions, const uint8_t* cond, const uint8_t* guide, uint8_t* rgba,
                  int64_t start_ns);  // advance + decode + post + stats
    void sample_head();               // noise bits -> noise -> K Euler steps into next_latents_ (fused where bundled)
    void decode_into(uint8_t* rgba);
    void publish_current();           // decode the current latents as a new latest frame
    void run_async();
    void run_decoder();
    void wait_decoder_idle();         // throws if the decode stage failed
    void stop_decoder();

    std::shared_ptr<Model> model_;
    const Manifest& manifest_;
    const int batch_;
    GraphSet graphs_;

    // Buffers bound to the graphs (fixed addresses).
    AlignedBuffer frames_rgb_, latents_, next_latents_, actions_, cond_, guide_, new_kv_, decoded_, scratch_;
    AlignedBuffer head_cond_, noise_bits_, temperature_, x_, t_, dt_;  // a flow head's; empty for mse
    KvRing ring_;
    std::unique_ptr<Binding> encode_, step_, decode_, noise_, sample_;
    std::map<int64_t, std::unique_ptr<Binding>> fused_sample_;  // K -> sample_k{K}: noise and K steps in one call

    std::mutex state_mutex_;      // everything above and below, up to the async part
    uint64_t frame_index_ = 0;
    uint64_t draw_ = 0;           // frames drawn since reset (docs/architecture.md §4)
    Sampling sampling_;
    std::vector<int64_t> last_actions_;
    std::mutex post_mutex_;       // post_: read by the decode stage, which never takes state_mutex_
    PostProcess post_;
    Stats stats_;
    std::shared_ptr<FramePool> pool_;
    LatestFrame latest_;

    // Asynchronous mode.
    std::mutex control_mutex_;    // start/stop
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<double> fps_{0.0};
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    bool stop_requested_ = false;  // under wake_mutex_
    ActionQueue queue_;
    std::mutex held_mutex_;        // conditions the async loop uses
    std::vector<uint8_t> held_cond_, held_guide_;
    std::string async_error_;      // under held_mutex_

    // The asynchronous decode stage. While the generation thread steps from frame f to f+1, this
    // thread decodes frame f; both only read latents_, which changes only while the decoder is idle.
    // A frame then costs max(step, decode) instead of their sum (docs/architecture.md §5: decode overlaps the step).
    struct DecodeJob {
        uint64_t index = 0;
        std::vector<int64_t> actions;
        int64_t start_ns = 0, step_ns = 0;  // the frame's step start and step time, for its stats
    };
    std::thread decoder_;
    std::mutex decode_mutex_;
    std::condition_variable decode_wake_;
    bool decode_pending_ = false;  // everything below under decode_mutex_
    bool decoder_stop_ = false;
    std::string decode_error_;
    DecodeJob decode_job_;
};

}  // namespace vgrt
