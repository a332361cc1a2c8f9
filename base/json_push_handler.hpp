// What every Boost.JSON push-parser handler of ours shares: no size limits beyond the parser's
// own, nothing to do at the document's ends, in comments or in a number's parts, and keys that
// arrive in parts put together. The handlers pick a few fields out of a document as it is read
// (llm/completion_fields.cpp, adapters/telegram/sent_message_id.cpp).
#pragma once

#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string>
#include <string_view>

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

    bool on_key_part(boost::json::string_view part, std::size_t, boost::system::error_code&) {
        key_parts_.append(part);
        return true;
    }

protected:
    // The whole key, given the last part on_key received; valid until the next key.
    std::string_view whole_key(boost::json::string_view last) {
        if (key_parts_.empty()) return last;
        key_parts_.append(last);
        whole_key_.swap(key_parts_);
        key_parts_.clear();  // the next key starts afresh
        return whole_key_;
    }

private:
    std::string key_parts_;  // of a key arriving in parts, so far
    std::string whole_key_;  // the last key that arrived in parts
};

}  // namespace bot
