// The message id in a Bot API answer to sendMessage or editMessageText, read without a tree.
// Every reply is a sendMessage, whose answer echoes the whole Message, the reply's text
// included: a Boost.JSON tree of it cost ~7K instructions per message, most of it copying that
// text and hashing keys nobody reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bot::adapters::telegram {

// result.message_id of {"ok": true, "result": {..., "message_id": ...}}, read as the tree
// would (a message_id of the wrong type reads as 0). nullopt when the answer is anything else
// (an error, another result, not JSON) or too odd to decide without the tree (a repeated "ok"
// or "result"): parse_api_answer then reads it as a tree.
std::optional<std::int64_t> sent_message_id(std::string_view body);

}  // namespace bot::adapters::telegram
