#include "telegram/sent_message_id.hpp"

#include "base/json_push_handler.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <string_view>

namespace bot::adapters::telegram {

namespace {

using boost::json::string_view;
using boost::system::error_code;

// Boost.JSON's push parser calls these as it reads; only "ok" and the result's message_id are
// kept. Depth 1 is the answer's own object, depth 2 the result's. The parse stops as soon as the
// answer cannot be a sent message ("ok" not true, a result that is no object, not an object at
// all): the caller then reads it as a tree anyway, and getUpdates' long answers, among others,
// would otherwise be read twice. So whatever is left to decide here, a duplicate key included,
// is decided as the tree decides it.
class Handler : public bot::JsonPushHandlerBase {
public:
    std::optional<std::int64_t> message_id() const {
        if (!ok_ || !has_message_id_) return std::nullopt;
        return message_id_;
    }

    bool on_object_begin(error_code& ec) { return open(true, ec); }
    bool on_object_end(std::size_t, error_code&) { return close(); }
    bool on_array_begin(error_code& ec) { return open(false, ec); }
    bool on_array_end(std::size_t, error_code&) { return close(); }
    bool on_key(string_view last, std::size_t, error_code&) {
        const std::string_view key = whole_key(last);
        if (depth_ == 1) {
            slot_ = key == "ok" ? Slot::ok : key == "result" ? Slot::result : Slot::other;
        } else if (depth_ == 2 && in_result_) {
            slot_ = key == "message_id" ? Slot::message_id : Slot::other;
        }
        return true;
    }
    bool on_string_part(string_view, std::size_t, error_code&) { return true; }
    bool on_string(string_view, std::size_t, error_code& ec) { return scalar(0, ec); }
    bool on_int64(std::int64_t value, string_view, error_code& ec) { return scalar(value, ec); }
    bool on_uint64(std::uint64_t value, string_view, error_code& ec) {
        return scalar(value <= INT64_MAX ? static_cast<std::int64_t>(value) : 0, ec);
    }
    bool on_double(double, string_view, error_code& ec) { return scalar(0, ec); }
    bool on_bool(bool value, error_code& ec) {
        if (depth_ == 1 && slot_ == Slot::ok && value) {
            ok_ = true;
            return true;
        }
        return scalar(0, ec);
    }
    bool on_null(error_code& ec) { return scalar(0, ec); }

private:
    // What the value being read is to us (from its key).
    enum class Slot : std::uint8_t { other, ok, result, message_id };

    static bool stop(error_code& ec) {
        ec = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
        return false;
    }

    // A value other than "ok": true. A message_id that is no integer reads as 0, as int_field
    // reads it.
    bool scalar(std::int64_t number, error_code& ec) {
        if (depth_ == 1 && slot_ != Slot::other) return stop(ec);  // "ok" not true, no result
        if (depth_ == 2 && slot_ == Slot::message_id) {
            has_message_id_ = true;
            message_id_ = number;
        }
        return true;
    }

    bool open(bool is_object, error_code& ec) {
        if (depth_ == 0 && !is_object) return stop(ec);
        if (depth_ == 1 && slot_ == Slot::ok) return stop(ec);
        if (depth_ == 1 && slot_ == Slot::result) {
            if (!is_object) return stop(ec);
            in_result_ = true;
            has_message_id_ = false;  // a repeated result replaces the earlier one
        }
        if (depth_ == 2 && slot_ == Slot::message_id) {
            has_message_id_ = true;
            message_id_ = 0;
        }
        ++depth_;
        slot_ = Slot::other;
        return true;
    }

    bool close() {
        if (--depth_ == 1) in_result_ = false;
        slot_ = Slot::other;
        return true;
    }

    std::size_t depth_ = 0;
    Slot slot_ = Slot::other;
    bool ok_ = false;
    bool in_result_ = false;  // reading the result's own keys and values
    bool has_message_id_ = false;
    std::int64_t message_id_ = 0;
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
