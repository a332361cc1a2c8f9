// What every Boost.JSON push-parser handler of ours shares: no size limits beyond the parser's
// own, and nothing to do at the document's ends, in comments or in a number's parts. The
// handlers pick a few fields out of a document as it is read (llm/completion_fields.cpp,
// adapters/telegram/sent_message_id.cpp).
#pragma once

#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>

namespace bot {

struct JsonPushHandlerBase {
    static constexpr std::size_t max_array_size = -1;
    static constexpr std::size_t max_object_size = -1;
    static constexpr std::size_t max_string_size = -1;
    static constexpr std::size_t max_key_size = -1;

    bool on_document_begin(boost::system::error_code&) { return true; }
    bool on_document_end(boost::system::error_code&) { return true; }
    bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace bot
