// Unguessable identifiers and tokens from OpenSSL's CSPRNG, as lower-case hex.
#pragma once

#include <openssl/rand.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace bot {

// 2 * bytes hex digits; throws when the system has no secure randomness.
inline std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed: no secure randomness available");
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes * 2);
    for (unsigned char byte : raw) {
        hex += kDigits[byte >> 4];
        hex += kDigits[byte & 0x0f];
    }
    return hex;
}

}  // namespace bot
