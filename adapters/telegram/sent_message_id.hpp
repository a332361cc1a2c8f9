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
// would: a repeated key's last value stands, and a message_id of the wrong type reads as 0.
// nullopt for anything else (an error, another result, not JSON): parse_api_answer then reads
// the answer as a tree.
std::optional<std::int64_t> sent_message_id(std::string_view body);

}  // namespace bot::adapters::telegram
