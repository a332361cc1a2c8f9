// Hash maps keyed by std::string and looked up by std::string_view without building a string:
// the per-message tables (replies being tracked, conversation queues), which under load hold
// one entry per message in flight (a std::map's lookups then compared ~10 long keys with a
// shared prefix each), and each SQLite connection's statement cache.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bot {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
        return std::hash<std::string_view>{}(text);
    }
};

template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace bot
