// SHA-256 (FIPS 180-4) for the bundle validator: every file a manifest lists carries the digest of
// its bytes, and the loader compares it before any graph or tensor is used. Incremental, so a file
// is hashed from the same buffer the validator parses (read once).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vgrt {

class Sha256 {
public:
    Sha256();
    void update(const uint8_t* data, size_t size);
    std::string hex();  // finishes the digest: 64 lowercase hex digits

private:
    void block(const uint8_t* chunk);

    std::array<uint32_t, 8> state_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t length_ = 0;  // bytes hashed so far
};

std::string sha256_hex(const uint8_t* data, size_t size);

}  // namespace vgrt
