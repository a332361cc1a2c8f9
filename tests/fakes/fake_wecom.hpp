// The WeCom side of a self-built app, for tests:
// - FakeWecomApi: the server API on loopback (gettoken, message/send) with strict credential
//   checks, expiring tokens, scripted errcodes and an optional per-member rate limit check;
// - WecomCallbacks: WeCom's callback client: signs and encrypts URL checks and messages the
//   way WeCom does and sends them to the bot.
#pragma once

#include "fakes/test_http.hpp"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bot::testing {

class FakeWecomApi {
public:
    struct Sent {
        std::string touser;
        std::string content;
        long long agentid = 0;
    };

    FakeWecomApi(std::string corp_id, std::string secret, long long agent_id);
    ~FakeWecomApi();

    std::string api_base() const;

    std::vector<Sent> messages() const;
    bool wait_for_messages(std::size_t n,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t token_fetches() const;
    std::size_t send_calls() const;  // including refused ones
    // Calls with the current token get errcode 42001 from now on; the next gettoken hands out
    // a new one.
    void expire_token();
    // The next message/send calls with a valid token answer these errcodes (FIFO).
    void script_send(int errcode);
    // More than per_minute messages to one member within 60 s answer errcode 45009 (0: off).
    void limit_per_user(std::size_t per_minute);
    std::size_t rate_limit_violations() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class WecomCallbacks {
public:
    WecomCallbacks(std::string url, std::string token, std::string corp_id,
                   std::string encoding_aes_key, std::string agent_id = "1000002");

    // A member's messages as WeCom's decrypted callback XML.
    static std::string text_xml(const std::string& user_id, const std::string& msg_id,
                                const std::string& text, const std::string& agent_id = "1000002");
    static std::string image_xml(const std::string& user_id, const std::string& msg_id);
    static std::string event_xml(const std::string& user_id, const std::string& event);

    // Encrypts xml (for corp_id, by default ours) and signs it with the timestamp at (Unix
    // seconds; default: now): the query and the POST body.
    std::pair<std::string, std::string> sign(const std::string& xml,
                                             std::optional<std::time_t> at = {}) const;
    std::pair<std::string, std::string> sign_for(const std::string& xml, const std::string& corp_id,
                                                 std::optional<std::time_t> at = {}) const;
    // Signs and POSTs xml like WeCom (one try).
    TestResponse post(const std::string& xml) const;
    // One POST with the given query and body, as is (forged and malformed callbacks).
    TestResponse post_raw(const std::string& query, const std::string& body) const;

    // The base64 ciphertext of plaintext (random prefix), as WeCom puts it in echostr.
    std::string encrypt(const std::string& plaintext) const;
    // The signed query of a URL check carrying echostr (ciphertext from encrypt()),
    // percent-encoded like WeCom; escape_plus false leaves '+' unescaped, as some proxies do.
    std::string url_check_query(const std::string& echostr, bool escape_plus = true,
                                std::optional<std::time_t> at = {}) const;
    TestResponse get_raw(const std::string& query) const;

    const std::string& token() const { return token_; }

private:
    std::string url_, token_, corp_id_, aes_key_, agent_id_;
};

// Percent-encodes every byte but unreserved characters (for echostr and other values).
std::string percent_encode(const std::string& text, bool escape_plus = true);

}  // namespace bot::testing
