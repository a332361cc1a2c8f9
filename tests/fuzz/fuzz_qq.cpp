// A QQ open-platform push and the answers of its API (adapters/qq/qq_codec.*): parse_push never
// throws and a message it returns names its chat in a way that reads back; the token and send
// answers are classified, whatever their body.
#include "fuzz_support.hpp"
#include "qq/qq_codec.hpp"

namespace qq = bot::adapters::qq;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = fuzz::as_text(data, size);
    if (auto push = qq::parse_push(body); push && push->kind == qq::Push::Kind::message) {
        const auto& message = push->message;
        fuzz::require(!message.id.empty() && !message.author_id.empty(), "a message without ids");
        fuzz::require(fuzz::valid_utf8(message.text), "text is not valid UTF-8");
        auto chat = qq::chat_of(message, "qq");
        auto scene = qq::scene_of(chat);
        fuzz::require(scene && *scene == message.scene, "the chat id does not read back");
        fuzz::require(!qq::reply_path(chat).empty(), "no reply path for a message's chat");
    }
    (void)qq::parse_token_answer(size % 2 ? 200 : 401, body);
    (void)qq::classify_send(200 + static_cast<int>(size % 400), body, body.substr(0, 8));
    return 0;
}
