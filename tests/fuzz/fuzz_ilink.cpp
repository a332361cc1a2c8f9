// An iLink getupdates answer (adapters/wechat_ilink/ilink_codec.*), parsed as IlinkApi does
// (nlohmann without exceptions; not an object: refused before the codec). parse_updates
// declares no exception.
#include "fuzz_support.hpp"
#include "wechat_ilink/ilink_codec.hpp"

namespace il = bot::adapters::wechat_ilink;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto body = il::json::parse(fuzz::as_text(data, size), nullptr, false);
    if (!body.is_object()) return 0;
    auto updates = il::parse_updates(body);
    fuzz::require(updates.poll_timeout_ms >= 0 && updates.poll_timeout_ms <= il::kMaxPollTimeoutMs,
                  "a poll timeout out of bounds");
    for (const auto& message : updates.messages) {
        fuzz::require(message.text.empty() != message.unsupported.empty(),
                      "a message is either text or unsupported");
    }
    return 0;
}
