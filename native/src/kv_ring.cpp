// The KV ring cache (see kv_ring.hpp).
#include "kv_ring.hpp"

#include <algorithm>
#include <cstring>

namespace vgrt {

KvRing::KvRing(const CacheSpec& spec, int batch)
    : slots_(spec.cache_slots),
      sentinel_(spec.lag_sentinel),
      blocks_(size_t(spec.n_layers) * 2 * size_t(batch) * size_t(spec.n_heads)),
      block_bytes_(size_t(spec.tokens_per_frame) * size_t(spec.head_dim) * dtype_size(spec.dtype)),
      cache_(blocks_ * size_t(spec.cache_slots) * block_bytes_),
      lags_(size_t(spec.cache_slots) * sizeof(int64_t)) {
    clear();
}

void KvRing::clear() {
    std::memset(cache_.data(), 0, cache_.size());
    std::fill(lags(), lags() + slots_, sentinel_);
    next_ = 0;
}

void KvRing::push(const void* new_kv) {
    const uint8_t* source = static_cast<const uint8_t*>(new_kv);
    uint8_t* target = cache_.data() + size_t(next_) * block_bytes_;
    const size_t stride = size_t(slots_) * block_bytes_;
    for (size_t block = 0; block < blocks_; ++block)
        std::memcpy(target + block * stride, source + block * block_bytes_, block_bytes_);
    int64_t* lag = lags();
    for (int64_t s = 0; s < slots_; ++s) lag[s] = std::min(lag[s] + 1, sentinel_);
    lag[next_] = 1;
    next_ = (next_ + 1) % slots_;
}

}  // namespace vgrt
