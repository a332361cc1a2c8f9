// A web chat client's websocket frame (adapters/webchat/webchat_codec.*): parse_client_frame
// never throws; what it accepts is valid; frames sent back are JSON whatever they carry.
#include "fuzz_support.hpp"
#include "webchat/webchat_codec.hpp"

#include <nlohmann/json.hpp>

namespace wc = bot::adapters::webchat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto frame = wc::parse_client_frame(text);
    std::string id = "m1";
    if (const auto* hello = std::get_if<wc::Hello>(&frame)) {
        fuzz::require(wc::valid_user_id(hello->user), "an invalid user id accepted");
    } else if (const auto* message = std::get_if<wc::UserMessage>(&frame)) {
        fuzz::require(wc::valid_message_id(message->id), "an invalid message id accepted");
        id = message->id;
    } else {
        fuzz::require(!std::get<wc::BadFrame>(frame).reason.empty(), "a refusal without reason");
    }
    for (const auto& reply :
         {wc::render_ready(text, {{"user", std::string(text)}}), wc::render_delta(id, text),
          wc::render_done(id, text), wc::render_error(id, "bad_frame", text)}) {
        fuzz::require(nlohmann::json::accept(reply), "a frame that is not JSON");
    }
    return 0;
}
