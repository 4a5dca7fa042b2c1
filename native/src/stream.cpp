// Streams: synchronous stepping over bound buffers, snapshots (see stream.hpp); the asynchronous
// mode lives in stream_async.cpp.
#include "stream.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "errors.hpp"
#include "half.hpp"
#include "philox.hpp"

namespace vgrt {
namespace {

void write_floats(const float* source, size_t count, DType dtype, uint8_t* target) {
    if (dtype == DType::float32) {
        std::memcpy(target, source, count * sizeof(float));
        return;
    }
    uint16_t* half = reinterpret_cast<uint16_t*>(target);
    for (size_t i = 0; i < count; ++i) half[i] = float_to_half(source[i]);
}

void check_finite(const float* values, size_t count, const char* name) {
    for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i]))
            invalid(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(values[i]) +
                    ": conditions must be finite (no NaN or infinity)");
}

// Guide maps are normalised (docs/conditioning.md); a value outside the manifest's
// conditions.guide.range (NaN and infinities included) is a caller's mistake, not a frame to draw.
void check_guide(const float* values, size_t count, const Manifest& m, const std::string& name) {
    size_t bad = first_outside(values, count, m.guide_min, m.guide_max);
    if (bad == count) return;
    char text[160];
    std::snprintf(text, sizeof text, "[%zu] = %g: outside the guide range [%g, %g] (manifest conditions.guide.range)",
                  bad, double(values[bad]), double(m.guide_min), double(m.guide_max));
    invalid(name + text);
}

// A flow head's buffer: the named tensor's size in `kind`'s graph, or empty for an mse head.
AlignedBuffer head_buffer(const Manifest& m, int batch, const char* kind, const char* name, bool input) {
    if (!m.head.flow()) return AlignedBuffer();
    const GraphSpec& graph = m.graph(batch, kind);
    return AlignedBuffer((input ? graph.input(name) : graph.output(name))->bytes());
}

// A bundle's default context as the C struct reset() takes.
vgrt_context default_context(const Context& c) {
    vgrt_context context{};
    context.frames = c.frames.data();
    context.frames_size = c.frames.size();
    context.frame_count = size_t(c.count);
    context.actions = c.actions.data();
    context.action_count = c.actions.size();
    context.cond = c.cond.empty() ? nullptr : c.cond.data();
    context.cond_count = c.cond.size();
    context.guide = c.guide.empty() ? nullptr : c.guide.data();
    context.guide_count = c.guide.size();
    return context;
}

}  // namespace

Stream::Stream(std::shared_ptr<Model> model, int batch, const vgrt_context* context, const Sampling& sampling)
    : model_(std::move(model)),
      manifest_(model_->manifest()),
      batch_(batch),
      graphs_(model_->graphs(batch)),
      frames_rgb_(size_t(batch) * manifest_.height * manifest_.width * 3),
      latents_(manifest_.graph(batch, "step").input("latents")->bytes()),
      next_latents_(latents_.size()),
      actions_(size_t(batch) * sizeof(int64_t)),
      cond_(size_t(batch) * manifest_.cond_dim * dtype_size(manifest_.latent_dtype)),
      guide_(size_t(batch) * manifest_.guide_channels * manifest_.height * manifest_.width *
             dtype_size(manifest_.latent_dtype)),
      new_kv_(manifest_.graph(batch, "step").output("new_kv")->bytes()),
      decoded_(size_t(batch) * manifest_.height * manifest_.width * 4),
      scratch_(size_t(manifest_.height) * manifest_.width * 4),
      head_cond_(head_buffer(manifest_, batch, "step", "head_cond", false)),
      noise_bits_(head_buffer(manifest_, batch, "noise", "noise_bits", true)),
      temperature_(head_buffer(manifest_, batch, "noise", "temperature", true)),
      x_(head_buffer(manifest_, batch, "sample", "x", true)),
      t_(head_buffer(manifest_, batch, "sample", "t", true)),
      dt_(head_buffer(manifest_, batch, "sample", "dt", true)),
      ring_(manifest_.cache, batch),
      last_actions_(size_t(batch), -1),
      pool_(std::make_shared<FramePool>(batch, int(manifest_.height), int(manifest_.width))),
      queue_(batch) {
    encode_ = graphs_.encode->bind({{"frames", frames_rgb_.data(), frames_rgb_.size()}},
                                   {{"latents", latents_.data(), latents_.size()}});
    std::vector<BufferRef> step_inputs = {
        {"latents", latents_.data(), latents_.size()},
        {"action", actions_.data(), actions_.size()},
        {"lags", ring_.lags(), ring_.lag_bytes()},
    };
    // past_key_{l} / past_value_{l} are the ring's contiguous blocks (l, 0) / (l, 1), bound by
    // address: the step reads the cache where it lies (docs/architecture.md §4).
    const size_t ring_blocks = 2 * size_t(manifest_.cache.n_layers);
    const size_t block_bytes = ring_.cache_bytes() / ring_blocks;
    for (size_t block = 0; block < ring_blocks; ++block)
        step_inputs.push_back({(block % 2 ? "past_value_" : "past_key_") + std::to_string(block / 2),
                               static_cast<uint8_t*>(ring_.cache()) + block * block_bytes, block_bytes});
    if (manifest_.cond_dim) step_inputs.push_back({"cond", cond_.data(), cond_.size()});
    if (manifest_.guide_channels) step_inputs.push_back({"guide", guide_.data(), guide_.size()});
    sampling_ = checked(sampling);
    const bool flow = manifest_.head.flow();
    step_ = graphs_.step->bind(step_inputs, {flow ? BufferRef{"head_cond", head_cond_.data(), head_cond_.size()}
                                                  : BufferRef{"next_latents", next_latents_.data(), next_latents_.size()},
                                             {"new_kv", new_kv_.data(), new_kv_.size()}});
    if (flow) {
        noise_ = graphs_.noise->bind({{"noise_bits", noise_bits_.data(), noise_bits_.size()},
                                      {"temperature", temperature_.data(), temperature_.size()}},
                                     {{"noise", x_.data(), x_.size()}});
        sample_ = graphs_.sample->bind({{"head_cond", head_cond_.data(), head_cond_.size()},
                                        {"x", x_.data(), x_.size()},
                                        {"t", t_.data(), t_.size()},
                                        {"dt", dt_.data(), dt_.size()}},
                                       {{"x_next", next_latents_.data(), next_latents_.size()}});
        for (const auto& [steps, graph] : graphs_.fused_sample)
            fused_sample_[steps] = graph->bind({{"head_cond", head_cond_.data(), head_cond_.size()},
                                                {"noise_bits", noise_bits_.data(), noise_bits_.size()},
                                                {"temperature", temperature_.data(), temperature_.size()}},
                                               {{"next_latents", next_latents_.data(), next_latents_.size()}});
    }
    decode_ = graphs_.decode->bind({{"latents", latents_.data(), latents_.size()}},
                                   {{"frames", decoded_.data(), decoded_.size()}});
    post_.set(manifest_.postprocess);
    std::lock_guard<std::mutex> lock(state_mutex_);
    reset_locked(context ? *context : default_context(model_->context()));
}

Stream::~Stream() { stop(); }

void Stream::check_actions(const int64_t* actions, size_t count) const {
    if (!actions) invalid("actions is NULL");
    if (count != size_t(batch_))
        invalid("got " + std::to_string(count) + " actions for a stream of batch " + std::to_string(batch_) +
                " (one per player)");
    const int64_t n = int64_t(manifest_.action_names.size());
    for (size_t i = 0; i < count; ++i)
        if (actions[i] < 0 || actions[i] >= n)
            invalid("action " + std::to_string(actions[i]) + " (player " + std::to_string(i) +
                    ") out of range: this world has actions 0.." + std::to_string(n - 1));
}

void Stream::stage_conditions(const vgrt_conditions* conditions, std::vector<uint8_t>& cond,
                              std::vector<uint8_t>& guide) const {
    const size_t cond_count = size_t(batch_) * manifest_.cond_dim;
    const size_t guide_count = size_t(batch_) * manifest_.guide_channels * manifest_.height * manifest_.width;
    const float* c = conditions ? conditions->cond : nullptr;
    const float* g = conditions ? conditions->guide : nullptr;
    if (cond_count == 0 && c) invalid("this bundle takes no cond vector (conditions.cond must be NULL)");
    if (guide_count == 0 && g) invalid("this bundle takes no guide map (conditions.guide must be NULL)");
    if (cond_count && (!c || conditions->cond_count != cond_count))
        invalid("this bundle needs cond of " + std::to_string(cond_count) + " floats (batch x " +
                std::to_string(manifest_.cond_dim) + ") every step, got " +
                (c ? std::to_string(conditions->cond_count) : std::string("none")));
    if (guide_count && (!g || conditions->guide_count != guide_count))
        invalid("this bundle needs a guide of " + std::to_string(guide_count) + " floats (batch x " +
                std::to_string(manifest_.guide_channels) + " x height x width) every step, got " +
                (g ? std::to_string(conditions->guide_count) : std::string("none")));
    if (c) check_finite(c, cond_count, "cond");
    if (g) check_guide(g, guide_count, manifest_, "guide");
    const size_t element = dtype_size(manifest_.latent_dtype);
    cond.resize(cond_count * element);
    guide.resize(guide_count * element);
    if (c) write_floats(c, cond_count, manifest_.latent_dtype, cond.data());
    if (g) write_floats(g, guide_count, manifest_.latent_dtype, guide.data());
}

void Stream::reset(const vgrt_context* context) {
    if (running_) fail(VGRT_ERROR_STATE, "reset while the stream runs asynchronously; stop it first");
    vgrt_context fallback = default_context(model_->context());
    std::lock_guard<std::mutex> lock(state_mutex_);
    reset_locked(context ? *context : fallback);
}

void Stream::reset_locked(const vgrt_context& context) {
    const size_t K = context.frame_count;
    const size_t players = context.per_player ? size_t(batch_) : 1;
    const size_t frame_bytes = size_t(manifest_.height) * manifest_.width * 3;
    const size_t dc = size_t(manifest_.cond_dim);
    const size_t dg = size_t(manifest_.guide_channels) * manifest_.height * manifest_.width;
    if (K < 1 || K > (1u << 20)) invalid("context.frame_count = " + std::to_string(K) + ": expected 1 or more");
    if (!context.frames || context.frames_size != players * K * frame_bytes)
        invalid("context.frames: expected " + std::to_string(players * K * frame_bytes) + " bytes (" +
                (context.per_player ? "batch x " : "") + std::to_string(K) + " x " + std::to_string(manifest_.height) +
                " x " + std::to_string(manifest_.width) + " x 3 RGB), got " +
                (context.frames ? std::to_string(context.frames_size) : std::string("NULL")));
    if (context.action_count != players * (K - 1) || (K > 1 && !context.actions))
        invalid("context.actions: expected " + std::to_string(players * (K - 1)) + " actions (one between each pair of frames), got " +
                std::to_string(context.actions ? context.action_count : 0));
    const int64_t n = int64_t(manifest_.action_names.size());
    for (size_t i = 0; i < context.action_count; ++i)
        if (context.actions[i] < 0 || context.actions[i] >= n)
            invalid("context.actions[" + std::to_string(i) + "] = " + std::to_string(context.actions[i]) +
                    ": out of range 0.." + std::to_string(n - 1));
    auto check_condition = [&](const float* values, size_t count, size_t per_frame, const char* name) {
        if (per_frame == 0) {
            if (values) invalid(std::string("context.") + name + ": this bundle takes none");
            return;
        }
        if (K > 1 && (!values || count != players * (K - 1) * per_frame))
            invalid(std::string("context.") + name + ": this bundle needs " + std::to_string(players * (K - 1) * per_frame) +
                    " floats for the context steps, got " + (values ? std::to_string(count) : std::string("none")));
    };
    check_condition(context.cond, context.cond_count, dc, "cond");
    check_condition(context.guide, context.guide_count, dg, "guide");
    if (context.cond) check_finite(context.cond, context.cond_count, "context.cond");
    if (context.guide) check_guide(context.guide, context.guide_count, manifest_, "context.guide");

    const DType dtype = manifest_.latent_dtype;
    const size_t element = dtype_size(dtype);
    auto load_frames = [&](size_t t) {
        for (size_t b = 0; b < size_t(batch_); ++b) {
            size_t index = (context.per_player ? b * K : 0) + t;
            std::memcpy(frames_rgb_.data() + b * frame_bytes, context.frames + index * frame_bytes, frame_bytes);
        }
    };
    ring_.clear();
    for (size_t t = 0; t + 1 < K; ++t) {
        load_frames(t);
        encode_->run();
        for (size_t b = 0; b < size_t(batch_); ++b) {
            size_t index = (context.per_player ? b * (K - 1) : 0) + t;
            actions_.as<int64_t>()[b] = context.actions[index];
            if (dc) write_floats(context.cond + index * dc, dc, dtype, cond_.data() + b * dc * element);
            if (dg) write_floats(context.guide + index * dg, dg, dtype, guide_.data() + b * dg * element);
        }
        step_->run();
        ring_.push(new_kv_.data());
    }
    load_frames(K - 1);
    encode_->run();
    frame_index_ = 0;
    draw_ = 0;
    std::fill(last_actions_.begin(), last_actions_.end(), -1);
    publish_current();
}

void Stream::publish_current() {
    FrameSlot* slot = pool_->take();
    try {
        decode_into(slot->rgba.data());
    } catch (...) {
        FramePool::release(slot);
        throw;
    }
    slot->frame.index = frame_index_;
    std::copy(last_actions_.begin(), last_actions_.end(), slot->actions.begin());
    latest_.publish(slot);
}

void Stream::decode_into(uint8_t* rgba) {
    decode_->run();
    std::lock_guard<std::mutex> lock(post_mutex_);
    post_.apply(decoded_.data(), rgba, scratch_.data(), batch_, int(manifest_.height), int(manifest_.width));
}

int64_t Stream::advance(const int64_t* actions, const uint8_t* cond, const uint8_t* guide) {
    std::memcpy(actions_.data(), actions, actions_.size());
    if (cond_.size()) std::memcpy(cond_.data(), cond, cond_.size());
    if (guide_.size()) std::memcpy(guide_.data(), guide, guide_.size());
    const int64_t step_start = now_ns();
    step_->run();
    ring_.push(new_kv_.data());
    if (sample_) sample_head();
    return now_ns() - step_start;
}

// The flow-matching sampler of docs/architecture.md §4: x = temperature * noise, then K Euler steps
// x += dt * v(x, t_k) with t_k = k/K, dt = 1/K. A K the bundle fuses is one call of sample_k{K}.
// Otherwise the last step writes next_latents_ (sample.onnx's output binding); the steps before copy
// it back into x_, which the graph reads.
void Stream::sample_head() {
    philox_noise_bits(sampling_.seed, draw_, noise_bits_.as<int32_t>(), noise_bits_.size() / sizeof(int32_t));
    temperature_.as<float>()[0] = sampling_.temperature;
    const int32_t K = sampling_.steps;
    auto fused = fused_sample_.find(K);
    if (fused != fused_sample_.end()) {
        fused->second->run();
        ++draw_;
        return;
    }
    noise_->run();
    dt_.as<float>()[0] = 1.0f / float(K);
    for (int32_t k = 0; k < K; ++k) {
        if (k) std::memcpy(x_.data(), next_latents_.data(), x_.size());
        t_.as<float>()[0] = float(k) / float(K);
        sample_->run();
    }
    ++draw_;
}

Sampling Stream::checked(Sampling sampling) const {
    const HeadSpec& head = manifest_.head;
    if (!std::isfinite(sampling.temperature) || sampling.temperature < 0.0f || sampling.temperature > 4.0f) {
        char text[96];
        std::snprintf(text, sizeof text, "temperature = %g: expected a finite number in [0, 4]", double(sampling.temperature));
        invalid(text);
    }
    if (sampling.steps == 0) sampling.steps = int32_t(head.sampling_steps);
    if (sampling.steps < 1 || sampling.steps > head.max_sampling_steps)
        invalid("sampling_steps = " + std::to_string(sampling.steps) + ": expected 1.." +
                std::to_string(head.max_sampling_steps) + " (manifest head.max_sampling_steps), or 0 for the bundle's " +
                std::to_string(head.sampling_steps));
    return sampling;
}

void Stream::set_sampling(const Sampling& sampling) {
    const Sampling valid = checked(sampling);
    std::lock_guard<std::mutex> lock(state_mutex_);
    sampling_ = valid;
}

Sampling Stream::sampling() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return sampling_;
}

void Stream::generate(const int64_t* actions, const uint8_t* cond, const uint8_t* guide, uint8_t* rgba,
                      int64_t start_ns) {
    const int64_t step_ns = advance(actions, cond, guide);
    std::memcpy(latents_.data(), next_latents_.data(), latents_.size());
    const int64_t decode_start = now_ns();
    decode_into(rgba);
    const int64_t end = now_ns();
    ++frame_index_;
    std::copy(actions, actions + batch_, last_actions_.begin());
    stats_.record(end, step_ns, end - decode_start, end - start_ns);
}

void Stream::step(const int64_t* actions, size_t count, const vgrt_conditions* conditions, uint8_t* rgba,
                  size_t size) {
    step_into(actions, count, conditions, rgba, size, nullptr);
}

FrameSlot* Stream::step_acquire(const int64_t* actions, size_t count, const vgrt_conditions* conditions) {
    FrameSlot* slot = pool_->take();
    try {
        step_into(actions, count, conditions, slot->rgba.data(), slot->rgba.size(), slot);
    } catch (...) {
        FramePool::release(slot);
        throw;
    }
    return slot;
}

void Stream::step_into(const int64_t* actions, size_t count, const vgrt_conditions* conditions, uint8_t* rgba,
                       size_t size, FrameSlot* slot) {
    const int64_t start = now_ns();
    check_actions(actions, count);
    const size_t expected = decoded_.size();
    if (!rgba || size != expected)
        invalid("rgba: expected a buffer of exactly " + std::to_string(expected) + " bytes (batch " +
                std::to_string(batch_) + " x " + std::to_string(manifest_.height) + " x " +
                std::to_string(manifest_.width) + " x 4), got " + (rgba ? std::to_string(size) : std::string("NULL")));
    thread_local std::vector<uint8_t> cond, guide;
    stage_conditions(conditions, cond, guide);
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (running_) fail(VGRT_ERROR_STATE, "step while the stream runs asynchronously; stop it first");
    generate(actions, cond.data(), guide.data(), rgba, start);
    if (slot) {
        slot->frame.index = frame_index_;
        std::copy(actions, actions + batch_, slot->actions.begin());
    }
}

std::unique_ptr<Snapshot> Stream::snapshot() {
    auto snap = std::make_unique<Snapshot>();
    std::lock_guard<std::mutex> lock(state_mutex_);
    snap->model = model_.get();
    snap->batch = batch_;
    const uint8_t* cache = static_cast<const uint8_t*>(ring_.cache());
    snap->cache.assign(cache, cache + ring_.cache_bytes());
    const uint8_t* lags = reinterpret_cast<const uint8_t*>(ring_.lags());
    snap->lags.assign(lags, lags + ring_.lag_bytes());
    snap->latents.assign(latents_.data(), latents_.data() + latents_.size());
    snap->next_slot = ring_.next_slot();
    snap->frame_index = frame_index_;
    snap->draw = draw_;
    snap->sampling = sampling_;
    snap->actions = last_actions_;
    return snap;
}

void Stream::restore(const Snapshot& snap) {
    if (snap.model != model_.get() || snap.batch != batch_ || snap.cache.size() != ring_.cache_bytes() ||
        snap.lags.size() != ring_.lag_bytes() || snap.latents.size() != latents_.size() ||
        snap.next_slot < 0 || snap.next_slot >= ring_.slots())
        invalid("the snapshot was taken from a stream of another model or batch size");
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (running_) wait_decoder_idle();  // the decode stage may still be reading latents_
    std::memcpy(ring_.cache(), snap.cache.data(), snap.cache.size());
    std::memcpy(ring_.lags(), snap.lags.data(), snap.lags.size());
    std::memcpy(latents_.data(), snap.latents.data(), snap.latents.size());
    ring_.set_next_slot(snap.next_slot);
    frame_index_ = snap.frame_index;
    draw_ = snap.draw;
    sampling_ = snap.sampling;
    last_actions_ = snap.actions;
}

void Stream::set_postprocess(const vgrt_postprocess& params) {
    PostProcess checked;
    checked.set(params);
    std::lock_guard<std::mutex> lock(post_mutex_);
    post_ = checked;
}

vgrt_postprocess Stream::postprocess() {
    std::lock_guard<std::mutex> lock(post_mutex_);
    return post_.params();
}

void Stream::stats(vgrt_stats& out) const { stats_.fill(out); }

}  // namespace vgrt
