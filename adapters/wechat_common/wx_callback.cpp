#include "wechat_common/wx_callback.hpp"

#include "base/random_id.hpp"

#include <charconv>
#include <chrono>

namespace bot::adapters::wechat {

void mount_callback_routes(http::Router& routes, const std::string& path, http::Handler verify_url,
                           http::Handler callback) {
    http::RouteOptions options{.body_limit = 64 << 10};
    routes.add("GET", path, std::move(verify_url), options);
    routes.add("POST", path, std::move(callback), options);
}

bool msg_signature_ok(const http::Request& request, std::string_view token,
                      std::string_view payload) {
    // '+' kept: the parameters travel percent-encoded, and payloads are base64.
    auto param = [&](std::string_view name) {
        return request.query_param(name, /*plus_as_space=*/false).value_or("");
    };
    return signature_matches(param("msg_signature"),
                             sha1_signature({token, param("timestamp"), param("nonce"), payload}));
}

bool timestamp_recent(const http::Request& request, std::chrono::system_clock::time_point now) {
    auto timestamp = request.query_param("timestamp").value_or("");
    std::int64_t seconds = 0;
    auto [end, error] =
        std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), seconds);
    if (error != std::errc() || end != timestamp.data() + timestamp.size()) return false;
    auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    // Bounds around now rather than |now - seconds|: a timestamp near INT64_MIN cannot overflow.
    return seconds >= now_s - kMaxTimestampSkew.count() &&
           seconds <= now_s + kMaxTimestampSkew.count();
}

std::optional<http::Response> refuse_unsigned(const http::Request& request, std::string_view token,
                                              std::string_view payload) {
    if (payload.empty() || !msg_signature_ok(request, token, payload)) {
        return http::Response::text(401, "bad msg_signature");
    }
    // Checked after the signature, so the answer tells an operator whose clock is off why
    // genuine callbacks fail, and tells a forger nothing new.
    if (!timestamp_recent(request)) return http::Response::text(401, "stale timestamp");
    return std::nullopt;
}

http::Response refused_ciphertext(CryptError error) {
    bool foreign = error == CryptError::foreign_receive_id;
    return http::Response::text(foreign ? 401 : 400, std::string(describe(error)));
}

SealedReply seal_reply(const MessageCrypt& crypt, std::string_view token,
                       std::string_view plaintext) {
    SealedReply sealed;
    sealed.timestamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
    sealed.nonce = random_hex(8);
    sealed.encrypt = crypt.encrypt(plaintext);
    sealed.signature = sha1_signature({token, sealed.timestamp, sealed.nonce, sealed.encrypt});
    return sealed;
}

}  // namespace bot::adapters::wechat
