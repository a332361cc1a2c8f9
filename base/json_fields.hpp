// Reading JSON documents that arrive on hot paths (webhook updates, platform API answers) with
// Boost.JSON: a parse into a buffer on the caller's stack, and lenient field access. LLM
// answers and their streamed chunks (hundreds per reply) skip the tree altogether
// (llm/completion_fields.cpp).
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot {

// One document parsed into a buffer inside this object (declare it as a local); larger ones
// continue in heap blocks. The tree lives as long as the object and is dropped without a walk
// over its nodes: no allocation and no free per node for a document read once.
template <std::size_t Bytes = 4096>
class ScratchJson {
public:
    ScratchJson() = default;
    ScratchJson(const ScratchJson&) = delete;
    ScratchJson& operator=(const ScratchJson&) = delete;

    // nullptr when the text is not JSON. Parsing again replaces the previous tree.
    const boost::json::value* parse(std::string_view text) {
        boost::system::error_code ec;
        // Emplaced, not assigned: a moved-in value keeps the arena as its storage.
        value_.emplace(boost::json::parse(text, ec, &arena_));
        return ec ? nullptr : &*value_;
    }

    // The object when the text is a JSON object, else nullptr.
    const boost::json::object* parse_object(std::string_view text) {
        const auto* value = parse(text);
        return value ? value->if_object() : nullptr;
    }

private:
    alignas(std::max_align_t) std::array<unsigned char, Bytes> buffer_;
    boost::json::monotonic_resource arena_{buffer_.data(), buffer_.size()};
    std::optional<boost::json::value> value_;
};

// Fields of the wrong type read as absent (0, "", false, nullptr): input from the network is
// ignored when malformed, never an exception.
inline std::int64_t int_field(const boost::json::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    if (!found) return 0;
    if (const auto* value = found->if_int64()) return *value;
    if (const auto* value = found->if_uint64(); value && *value <= INT64_MAX) {
        return static_cast<std::int64_t>(*value);
    }
    return 0;
}

inline std::string string_field(const boost::json::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    const auto* text = found ? found->if_string() : nullptr;
    return text ? std::string(*text) : std::string();
}

inline bool bool_field(const boost::json::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    return found && found->is_bool() && found->get_bool();
}

inline const boost::json::object* object_field(const boost::json::object& object,
                                               std::string_view key) {
    const auto* found = object.if_contains(key);
    return found ? found->if_object() : nullptr;
}

inline const boost::json::array* array_field(const boost::json::object& object,
                                             std::string_view key) {
    const auto* found = object.if_contains(key);
    return found ? found->if_array() : nullptr;
}

}  // namespace bot
