#include "llm/completion_fields.hpp"

#include "base/json_push_handler.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <array>
#include <cstdint>
#include <limits>

namespace bot::llm {

namespace {

using boost::json::string_view;
using boost::system::error_code;

// Where the parser is, as far as the fields we read are concerned.
enum class Place : std::uint8_t { other, top, usage, choices, choice, holder };

// What the next value is to us: from its key in an object, or its index in "choices".
enum class Field : std::uint8_t {
    other,
    root,
    error,
    usage,
    choices,
    first_choice,
    finish_reason,
    holder,  // the object holding the text: "delta" or "message"
    content,
    prompt_tokens,
    completion_tokens,
};

// The object in a choice that holds the text: "delta" in a stream, "message" in a whole answer.
Field field_named(Place place, std::string_view key, std::string_view text_holder) {
    switch (place) {
        case Place::top:
            if (key == "choices") return Field::choices;
            if (key == "usage") return Field::usage;
            if (key == "error") return Field::error;
            break;
        case Place::usage:
            if (key == "prompt_tokens") return Field::prompt_tokens;
            if (key == "completion_tokens") return Field::completion_tokens;
            break;
        case Place::choice:
            if (key == text_holder) return Field::holder;
            if (key == "finish_reason") return Field::finish_reason;
            break;
        case Place::holder:
            if (key == "content") return Field::content;
            break;
        default:
            break;
    }
    return Field::other;
}

// Boost.JSON's push parser calls these as it reads; the few fields we read are picked out on
// the way, with no tree built (building one, which hashed every object's keys, cost more than
// the parse itself). A field of the wrong type reads as absent, and the last of repeated keys
// wins, as the tree gave.
class FieldHandler : public JsonPushHandlerBase {
public:
    FieldHandler(CompletionFields& fields, std::string_view text_holder)
        : fields_(fields), text_holder_(text_holder) {}
    bool top_is_object() const { return top_is_object_; }

    bool on_object_begin(error_code& ec) { return open(true, ec); }
    bool on_object_end(std::size_t, error_code&) { return close(); }
    bool on_array_begin(error_code& ec) { return open(false, ec); }
    bool on_array_end(std::size_t, error_code&) { return close(); }

    bool on_key(string_view last, std::size_t, error_code&) {
        Level& level = levels_[depth_ - 1];
        level.field = field_named(level.place, whole_key(last), text_holder_);
        return true;
    }

    bool on_string_part(string_view part, std::size_t size_so_far, error_code&) {
        if (size_so_far == part.size()) target_ = begin_string();  // the first part
        if (target_) target_->append(part);
        return true;
    }
    bool on_string(string_view last, std::size_t size, error_code&) {
        if (size == last.size()) target_ = begin_string();  // the whole string at once
        if (target_) target_->append(last);
        target_ = nullptr;
        return ended();
    }

    bool on_int64(std::int64_t value, string_view, error_code&) { return count(value); }
    bool on_uint64(std::uint64_t value, string_view, error_code&) {
        return count(value <= std::uint64_t(std::numeric_limits<int>::max()) ? int(value) : -1);
    }
    bool on_double(double, string_view, error_code&) { return count(-1); }
    bool on_bool(bool, error_code&) { return scalar(); }
    bool on_null(error_code&) {
        const bool is_content = slot() == Field::content;
        starting();
        if (is_content) fields_.has_content = true;  // no text, but there (a tool call)
        return ended();
    }

private:
    struct Level {
        Place place = Place::other;
        Field field = Field::other;  // of the value that comes next (objects)
        bool is_array = false;
        std::uint32_t index = 0;  // of the value that comes next (arrays)
    };

    Field slot() const {
        if (depth_ == 0) return Field::root;
        const Level& level = levels_[depth_ - 1];
        if (!level.is_array) return level.field;
        return level.place == Place::choices && level.index == 0 ? Field::first_choice
                                                                 : Field::other;
    }

    // Every value resets the field its slot names, so a repeated key's last value stands and
    // a value of the wrong type reads as absent.
    void starting() {
        switch (slot()) {
            case Field::error:
                fields_.is_error = true;
                break;
            case Field::content:
                fields_.content.clear();
                fields_.has_content = false;
                break;
            case Field::finish_reason:
                fields_.finish_reason.clear();
                break;
            case Field::prompt_tokens:
                fields_.prompt_tokens = 0;
                break;
            case Field::completion_tokens:
                fields_.completion_tokens = 0;
                break;
            default:
                break;
        }
    }

    // Where a string in the current slot goes, if anywhere.
    std::string* begin_string() {
        const Field field = slot();
        starting();
        if (field == Field::content) {
            fields_.has_content = true;
            return &fields_.content;
        }
        if (field == Field::finish_reason) return &fields_.finish_reason;
        return nullptr;
    }

    bool scalar() {
        starting();
        return ended();
    }

    // A token count: one out of an int's range reads as absent (0).
    bool count(std::int64_t value) {
        const Field field = slot();
        starting();
        const int tokens = value >= 0 && value <= std::numeric_limits<int>::max() ? int(value) : 0;
        if (field == Field::prompt_tokens) fields_.prompt_tokens = tokens;
        if (field == Field::completion_tokens) fields_.completion_tokens = tokens;
        return ended();
    }

    bool open(bool is_object, error_code& ec) {
        if (depth_ == levels_.size()) {
            ec = boost::json::error::too_deep;
            return false;
        }
        const Field field = slot();
        starting();
        Place place = Place::other;
        if (is_object) {
            if (field == Field::root) {
                place = Place::top;
                top_is_object_ = true;
            } else if (field == Field::usage) {
                place = Place::usage;
                fields_.has_usage = true;
            } else if (field == Field::first_choice) {
                place = Place::choice;
            } else if (field == Field::holder) {
                place = Place::holder;
            }
        } else if (field == Field::choices) {
            place = Place::choices;
        }
        levels_[depth_++] = Level{place, Field::other, !is_object, 0};
        return true;
    }

    bool close() {
        --depth_;
        return ended();
    }

    // The value in the current slot is complete: move to the next key or index.
    bool ended() {
        if (depth_ > 0) {
            Level& level = levels_[depth_ - 1];
            if (level.is_array)
                ++level.index;
            else
                level.field = Field::other;
        }
        return true;
    }

    CompletionFields& fields_;
    std::string_view text_holder_;
    std::array<Level, 64> levels_{};  // deeper than Boost.JSON's default limit of 32
    std::size_t depth_ = 0;
    bool top_is_object_ = false;
    std::string* target_ = nullptr;  // the field a string arriving in parts goes to
};

std::optional<CompletionFields> parse_fields(std::string_view text, std::string_view text_holder) {
    CompletionFields fields;
    boost::json::basic_parser<FieldHandler> parser(boost::json::parse_options(), fields,
                                                   text_holder);
    error_code ec;
    const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (ec || used != text.size() || !parser.handler().top_is_object()) return std::nullopt;
    return fields;
}

}  // namespace

std::optional<CompletionFields> parse_stream_chunk(std::string_view data) {
    auto chunk = parse_fields(data, "delta");
    if (chunk && chunk->is_error) return CompletionFields{.is_error = true};
    return chunk;
}

std::optional<CompletionFields> parse_completion_fields(std::string_view body) {
    auto completion = parse_fields(body, "message");
    if (completion && completion->is_error) return std::nullopt;
    return completion;
}

}  // namespace bot::llm
