// Hash maps keyed by std::string and looked up by std::string_view without building a string.
// For the per-message tables (replies being tracked, conversation queues): under load they hold
// one entry per message in flight, and a std::map's lookups then compared ~10 long keys with
// a shared prefix (the adapter id) each.
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
