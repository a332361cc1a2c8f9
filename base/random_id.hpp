// Unguessable identifiers and tokens from OpenSSL's CSPRNG, as lower-case hex.
#pragma once

#include "base/crypto.hpp"

#include <cstddef>
#include <string>

namespace bot {

// 2 * bytes hex digits; throws when the system has no secure randomness.
inline std::string random_hex(std::size_t bytes) {
    return crypto::hex(crypto::random_bytes(bytes));
}

}  // namespace bot
