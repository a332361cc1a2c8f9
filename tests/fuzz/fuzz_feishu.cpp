// Feishu's long connection and events (adapters/feishu/feishu_frame.*, feishu_codec.*): a
// pbbp2.Frame decode never throws, and a frame it accepts encodes and decodes back to itself;
// its payload (and the input itself) read as an event never throws, a message it returns has
// its ids and UTF-8 text; split payloads go together without growing past their bounds; the
// endpoint answer and ClientConfig readers stay within their ranges.
#include "feishu/feishu_codec.hpp"
#include "feishu/feishu_frame.hpp"
#include "fuzz_support.hpp"

namespace feishu = bot::adapters::feishu;

namespace {

void check_event(std::string_view text) {
    auto event = feishu::parse_event(text, "ou_bot");
    if (event.kind != feishu::Event::Kind::message) return;
    const auto& message = event.message;
    fuzz::require(
        !message.message_id.empty() && !message.chat_id.empty() && !message.sender_open_id.empty(),
        "a message without ids");
    fuzz::require(fuzz::valid_utf8(message.text) || !fuzz::valid_utf8(text),
                  "text is not valid UTF-8");
    fuzz::require(!message.mentions_me || !message.mentions.empty(),
                  "mentions_me without a mention");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = fuzz::as_text(data, size);
    if (auto frame = feishu::decode_frame(bytes)) {
        auto again = feishu::decode_frame(feishu::encode_frame(*frame));
        fuzz::require(again && *again == *frame, "a decoded frame does not round-trip");
        check_event(frame->payload);
        feishu::Fragments fragments;
        auto now = feishu::Fragments::Clock::now();
        for (int i = 0; i < 3; ++i) {
            fragments.add(frame->header("message_id"), frame->header("sum"), std::to_string(i),
                          frame->payload, now);
            fuzz::require(fragments.pending() <= feishu::Fragments::kMaxPending &&
                              fragments.pending_bytes() <= feishu::Fragments::kMaxPendingBytes,
                          "fragments past their bounds");
        }
    }
    check_event(bytes);

    feishu::ClientConfig config;
    feishu::apply_client_config(config, bytes);
    fuzz::require(config.ping_interval_s >= 1 && config.ping_interval_s <= 3600,
                  "a ping interval out of range");
    auto endpoint = feishu::parse_endpoint(200, bytes, config);
    if (endpoint.kind == feishu::Endpoint::Kind::ok)
        fuzz::require(endpoint.url.starts_with("ws"), "an endpoint that is not a websocket URL");
    feishu::classify(static_cast<int>(size % 600), bytes, bytes.substr(0, 8));
    return 0;
}
