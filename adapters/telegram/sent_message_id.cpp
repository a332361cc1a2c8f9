#include "telegram/sent_message_id.hpp"

#include "bot/json_push_handler.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <string>

namespace bot::adapters::telegram {

namespace {

using boost::json::string_view;
using boost::system::error_code;

// Boost.JSON's push parser calls these as it reads; only "ok" and the result's message_id are
// kept. Depth 1 is the answer's own object, depth 2 the result's.
class Handler : public bot::UnlimitedJsonHandler {
public:
    std::optional<std::int64_t> message_id() const {
        if (!top_is_object_ || !ok_ || !result_is_object_ || !has_message_id_) return std::nullopt;
        return message_id_;
    }

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) { return open(true); }
    bool on_object_end(std::size_t, error_code&) { return close(); }
    bool on_array_begin(error_code&) { return open(false); }
    bool on_array_end(std::size_t, error_code&) { return close(); }
    bool on_key_part(string_view part, std::size_t, error_code&) {
        key_.append(part);
        return true;
    }
    bool on_key(string_view last, std::size_t, error_code&) {
        std::string_view key = last;
        if (!key_.empty()) key = key_.append(last);
        if (depth_ == 1) {
            slot_ = key == "ok" ? Slot::ok : key == "result" ? Slot::result : Slot::other;
        } else if (depth_ == 2 && in_result_object()) {
            slot_ = key == "message_id" ? Slot::message_id : Slot::other;
        }
        key_.clear();
        return true;
    }
    bool on_string_part(string_view, std::size_t, error_code&) { return true; }
    bool on_string(string_view, std::size_t, error_code&) { return scalar(); }
    bool on_number_part(string_view, error_code&) { return true; }
    bool on_int64(std::int64_t value, string_view, error_code&) { return scalar(value); }
    bool on_uint64(std::uint64_t value, string_view, error_code&) {
        return scalar(value <= INT64_MAX ? static_cast<std::int64_t>(value) : 0);
    }
    bool on_double(double, string_view, error_code&) { return scalar(); }
    bool on_bool(bool value, error_code&) {
        scalar();
        if (depth_ == 1 && slot_ == Slot::ok) ok_ = value;
        return true;
    }
    bool on_null(error_code&) { return scalar(); }
    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }

private:
    // What the value being read is to us (from its key).
    enum class Slot : std::uint8_t { other, ok, result, message_id };

    bool in_result_object() const { return result_is_object_ && result_depth_ok_; }

    // A value replaces whatever its key held before: "ok" turns false unless it is true, a
    // result that is not an object has no message id, a message_id not an integer reads as 0.
    void replace(bool is_object, std::int64_t number) {
        if (depth_ == 1 && slot_ == Slot::ok) ok_ = false;
        if (depth_ == 1 && slot_ == Slot::result) {
            result_is_object_ = is_object;
            has_message_id_ = false;
        }
        if (depth_ == 2 && slot_ == Slot::message_id) {
            has_message_id_ = true;
            message_id_ = number;
        }
    }

    bool scalar(std::int64_t number = 0) {
        replace(false, number);
        return true;
    }

    bool open(bool is_object) {
        if (depth_ == 0) top_is_object_ = is_object;
        replace(is_object, 0);
        if (depth_ == 1) result_depth_ok_ = slot_ == Slot::result;
        ++depth_;
        slot_ = Slot::other;
        return true;
    }

    bool close() {
        --depth_;
        slot_ = Slot::other;
        return true;
    }

    std::size_t depth_ = 0;
    Slot slot_ = Slot::other;
    bool top_is_object_ = false;
    bool ok_ = false;
    bool result_is_object_ = false;
    bool result_depth_ok_ = false;  // the object at depth 2 being read is the result
    bool has_message_id_ = false;
    std::int64_t message_id_ = 0;
    std::string key_;  // a key arriving in parts
};

}  // namespace

std::optional<std::int64_t> sent_message_id(std::string_view body) {
    boost::json::basic_parser<Handler> parser{boost::json::parse_options()};
    error_code ec;
    const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
    if (ec || used != body.size()) return std::nullopt;
    return parser.handler().message_id();
}

}  // namespace bot::adapters::telegram
