// The request side of every WeChat-family webhook: one path (GET for the console's URL check,
// POST for callbacks), the msg_signature check, how undecryptable ciphertext is refused, and
// sealing an encrypted passive reply.
#pragma once

#include "bot/http/router.hpp"
#include "wechat_common/wx_crypt.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wechat {

// GET and POST on path, with the small body limit callbacks need (a few hundred bytes).
void mount_callback_routes(http::Router& routes, const std::string& path, http::Handler verify_url,
                           http::Handler callback);

// The query's msg_signature is sha1 over token, its timestamp and nonce, and payload (the
// ciphertext, or the echostr of a URL check).
bool msg_signature_ok(const http::Request& request, std::string_view token,
                      std::string_view payload);

// How far a signed timestamp may be from our clock. WeChat and WeCom sign the query's timestamp
// (signature = sha1(sort(token, timestamp, nonce)) in plain mode, msg_signature adds the
// ciphertext: /work/shared/reference/protocols.md sections 1, 2a, 2b) but document no window.
// Without one a captured request verifies forever; 5 minutes covers WeChat's ~15 s of retries
// and ordinary clock skew.
constexpr std::chrono::seconds kMaxTimestampSkew{300};

// The query's timestamp (Unix seconds) is within kMaxTimestampSkew of now.
bool timestamp_recent(const http::Request& request,
                      std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The 401 refusing a request whose msg_signature does not sign payload (empty payload: never
// signed) or whose timestamp is stale; nullopt when it is genuine and fresh.
std::optional<http::Response> refuse_unsigned(const http::Request& request, std::string_view token,
                                              std::string_view payload);

// 401 when the ciphertext is for another AppID/CorpID, 400 when it is not valid ciphertext.
http::Response refused_ciphertext(CryptError error);

// An encrypted reply and what signs it, for the platform's envelope (XML or JSON).
struct SealedReply {
    std::string encrypt;
    std::string signature;
    std::string timestamp;  // Unix seconds
    std::string nonce;
};
SealedReply seal_reply(const MessageCrypt& crypt, std::string_view token,
                       std::string_view plaintext);

}  // namespace bot::adapters::wechat
