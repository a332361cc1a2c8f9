// What every harness shares: a failed invariant aborts (libFuzzer reports it as a crash and
// saves the input), and network input is fed in pieces the way reads deliver it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fuzz {

// Not assert(): it must hold in every build type.
inline void require(bool holds, const char* what) {
    if (!holds) {
        std::fprintf(stderr, "invariant failed: %s\n", what);
        std::abort();
    }
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Structurally valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
inline bool valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t extra = 0;
        std::uint32_t min = 0, code = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, min = 0x80, code = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, min = 0x800, code = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, min = 0x10000, code = c & 0x07;
        } else {
            return false;
        }
        if (text.size() - i <= extra) return false;  // cut short
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            code = (code << 6) | (next & 0x3F);
        }
        if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

// Splits input into the pieces successive reads would deliver: the first byte sets the
// piece size (1-256 bytes), so the fuzzer explores every split, CRLF across pieces included.
class Pieces {
public:
    Pieces(const std::uint8_t* data, std::size_t size) {
        if (size > 0) {
            step_ = std::size_t{data[0]} + 1;
            rest_ = as_text(data + 1, size - 1);
        }
    }
    bool done() const { return rest_.empty(); }
    std::string_view next() {
        auto piece = rest_.substr(0, step_);
        rest_.remove_prefix(piece.size());
        return piece;
    }

private:
    std::size_t step_ = 1;
    std::string_view rest_;
};

}  // namespace fuzz
