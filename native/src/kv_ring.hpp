// The KV ring cache [L, 2, B, heads, S, N, head_dim] and its lags [S], updated exactly as the
// reference driver (OrtStepper) does: after a step, new_kv [L, 2, B, heads, N, head_dim] is copied
// into slot `next` as L*2*B*heads contiguous blocks of N*head_dim values, every lag ages by one up
// to the sentinel, lags[next] becomes 1, and `next` advances round-robin. The graph never scatters
// into the cache, so its inputs keep fixed addresses.
#pragma once

#include <cstdint>

#include "buffer.hpp"
#include "bundle.hpp"

namespace vgrt {

class KvRing {
public:
    KvRing(const CacheSpec& spec, int batch);

    void clear();                     // every slot empty: zeros, lags = sentinel, next = 0
    void push(const void* new_kv);    // new_kv_bytes() bytes laid out [L, 2, B, heads, N, head_dim]

    void* cache() { return cache_.data(); }
    size_t cache_bytes() const { return cache_.size(); }
    int64_t* lags() { return lags_.as<int64_t>(); }
    size_t lag_bytes() const { return lags_.size(); }
    size_t new_kv_bytes() const { return blocks_ * block_bytes_; }
    int64_t next_slot() const { return next_; }
    void set_next_slot(int64_t slot) { next_ = slot; }
    int64_t slots() const { return slots_; }

private:
    int64_t slots_, sentinel_, next_ = 0;
    size_t blocks_, block_bytes_;
    AlignedBuffer cache_, lags_;
};

}  // namespace vgrt
