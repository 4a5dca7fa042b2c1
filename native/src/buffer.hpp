// A fixed, zero-initialised, 64-byte-aligned byte buffer: the memory a backend binds once, so its
// address must never move (std::vector's could on resize) and SIMD loads stay aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace vgrt {

class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t bytes) : bytes_(bytes) {
        if (bytes == 0) return;
        data_ = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
        if (!data_) throw std::bad_alloc();
        std::memset(data_, 0, bytes);
    }
    ~AlignedBuffer() { std::free(data_); }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& other) noexcept : data_(other.data_), bytes_(other.bytes_) {
        other.data_ = nullptr;
        other.bytes_ = 0;
    }
    AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
        if (this != &other) {
            std::free(data_);
            data_ = other.data_;
            bytes_ = other.bytes_;
            other.data_ = nullptr;
            other.bytes_ = 0;
        }
        return *this;
    }

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return bytes_; }
    template <typename T> T* as() { return reinterpret_cast<T*>(data_); }
    template <typename T> const T* as() const { return reinterpret_cast<const T*>(data_); }

private:
    uint8_t* data_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace vgrt
