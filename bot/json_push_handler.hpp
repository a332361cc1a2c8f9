// What every Boost.JSON push-parser handler of ours declares: no size limits beyond the
// parser's own. The handlers pick a few fields out of a document as it is read
// (llm/completion_fields.cpp, adapters/telegram/sent_message_id.cpp).
#pragma once

#include <cstddef>

namespace bot {

struct UnlimitedJsonHandler {
    static constexpr std::size_t max_array_size = -1;
    static constexpr std::size_t max_object_size = -1;
    static constexpr std::size_t max_string_size = -1;
    static constexpr std::size_t max_key_size = -1;
};

}  // namespace bot
