// A WeCom AI bot callback after decryption (adapters/wecom_bot/wecom_bot_codec.*): malformed
// JSON is nullopt, never an exception; the frames built from its text are valid JSON whatever
// bytes they carry.
#include "fuzz_support.hpp"
#include "wecom_bot/wecom_bot_codec.hpp"

#include <nlohmann/json.hpp>

namespace wb = bot::adapters::wecom_bot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    if (auto callback = wb::parse_callback(text)) {
        fuzz::require(!callback->msgtype.empty(), "a callback without msgtype");
        fuzz::require(callback->text.size() <= size, "text longer than its input");
    }
    for (const auto& frame : {wb::stream_frame("id", text, true), wb::welcome_text(text),
                              wb::markdown_message(text), wb::envelope(text, "s", "1", "n")}) {
        fuzz::require(nlohmann::json::accept(frame), "a frame that is not JSON");
    }
    return 0;
}
