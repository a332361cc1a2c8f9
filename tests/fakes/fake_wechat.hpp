// The WeChat side of an Official Account, for tests:
// - FakeWechatApi: the server API on loopback (stable_token, message/custom/send) with strict
//   credential checks, expiring tokens and scripted errcodes;
// - WechatPusher: WeChat's push client: signs (and in safe mode encrypts) a message, POSTs it
//   to the bot and, like WeChat, gives up on a try after a timeout and tries again, 3 times.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bot::testing {

class FakeWechatApi {
public:
    struct Sent {
        std::string touser;
        std::string content;
    };

    FakeWechatApi(std::string app_id, std::string app_secret);
    ~FakeWechatApi();

    std::string api_base() const;

    std::vector<Sent> custom_messages() const;
    bool wait_for_custom(std::size_t n,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t token_fetches() const;
    std::size_t custom_calls() const;  // including refused ones
    // The current token stops working (calls with it get 40001); the next stable_token call
    // hands out a new one.
    void expire_token();
    // The next custom/send calls answer these errcodes (FIFO) instead of sending.
    void script_custom_send(int errcode);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct PushOutcome {
    int tries = 0;        // pushes made
    long status = 0;      // HTTP status of the answered try (0: no try was answered)
    std::string body;     // its raw body
    std::string content;  // the reply's Content (decrypted and checked in safe mode); empty
                          // for "success" or an empty body
};

class WechatPusher {
public:
    // encoding_aes_key empty: plain mode.
    WechatPusher(std::string url, std::string token, std::string app_id,
                 std::string encoding_aes_key = {});

    // A user's text message as WeChat pushes it.
    static std::string text_xml(const std::string& openid, const std::string& msg_id,
                                const std::string& text);
    static std::string event_xml(const std::string& openid, const std::string& event);

    // Pushes xml like WeChat: up to `tries` POSTs, each abandoned after timeout.
    PushOutcome push(const std::string& xml, int tries = 3,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
    // One POST with the given query and body, as is (for forged and malformed pushes).
    std::pair<long, std::string> post_raw(const std::string& query, const std::string& body) const;
    // The signed query and body of a push of xml (encrypted in safe mode), signed with the
    // timestamp at (Unix seconds; default: now).
    std::pair<std::string, std::string> sign(const std::string& xml,
                                             std::optional<std::time_t> at = {}) const;

private:
    std::string url_, token_, app_id_, aes_key_;
};

}  // namespace bot::testing
