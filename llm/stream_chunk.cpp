#include "llm/stream_chunk.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <limits>

namespace bot::llm {

namespace {

namespace bj = boost::json;

std::string string_at(const bj::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    return found && found->is_string() ? std::string(found->get_string()) : std::string();
}

int int_at(const bj::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    if (!found) return 0;
    if (found->is_int64()) {
        const auto value = found->get_int64();
        return value >= 0 && value <= std::numeric_limits<int>::max() ? int(value) : 0;
    }
    if (found->is_uint64()) {
        const auto value = found->get_uint64();
        return value <= std::uint64_t(std::numeric_limits<int>::max()) ? int(value) : 0;
    }
    return 0;
}

}  // namespace

std::optional<StreamChunk> parse_stream_chunk(std::string_view data) {
    // Larger chunks spill over into the heap through the resource's upstream.
    alignas(std::max_align_t) std::array<unsigned char, 4096> buffer;
    bj::monotonic_resource arena(buffer.data(), buffer.size());
    boost::system::error_code ec;
    const bj::value parsed = bj::parse(data, ec, &arena);
    if (ec || !parsed.is_object()) return std::nullopt;
    const auto& object = parsed.get_object();

    StreamChunk chunk;
    if (object.contains("error")) {
        chunk.is_error = true;
        return chunk;
    }
    if (const auto* usage = object.if_contains("usage"); usage && usage->is_object()) {
        chunk.has_usage = true;
        chunk.prompt_tokens = int_at(usage->get_object(), "prompt_tokens");
        chunk.completion_tokens = int_at(usage->get_object(), "completion_tokens");
    }
    const auto* choices = object.if_contains("choices");
    if (!choices || !choices->is_array() || choices->get_array().empty()) return chunk;
    const auto& choice = choices->get_array().front();
    if (!choice.is_object()) return chunk;
    chunk.finish_reason = string_at(choice.get_object(), "finish_reason");
    if (const auto* delta = choice.get_object().if_contains("delta"); delta && delta->is_object()) {
        chunk.content = string_at(delta->get_object(), "content");
    }
    return chunk;
}

}  // namespace bot::llm
