// The QQ open platform, for tests (on the RecordingServer):
// - the token endpoint (getAppAccessToken) with strict credentials, counting its calls, tokens
//   that can be expired, expires_in as a string (as QQ sends it) or a number, an optional delay;
// - the passive reply endpoints (/v2/users, /v2/groups, /channels, /dms), recording msg_id,
//   msg_seq and content, refusing a repeated msg_id + msg_seq (40054005) and a sixth reply,
//   with scripted errors;
// - the webhook client: pushes signed with Ed25519 from the bot secret, as QQ signs them.
#pragma once

#include "fakes/test_http.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeQq {
public:
    struct Sent {
        std::string path;  // "/v2/users/<openid>/messages", ...
        std::string content;
        std::string msg_id;
        std::int64_t msg_seq = 0;  // 0: absent
        int msg_type = -1;
    };

    FakeQq(std::string app_id, std::string secret);
    ~FakeQq();

    std::string api_base() const;
    std::string token_url() const;

    std::vector<Sent> messages() const;
    bool wait_for_messages(std::size_t n,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t token_fetches() const;
    std::size_t send_calls() const;  // including refused ones
    // Calls with the current token get 401 (code 11244) from now on; the next fetch hands out a
    // new one.
    void expire_token();
    // The token endpoint answers expires_in as a JSON number instead of a string.
    void expires_in_as_number(bool number);
    // The token endpoint waits this long before it answers.
    void token_delay(std::chrono::milliseconds delay);
    // The next message calls with a valid token answer these (FIFO): HTTP status and QQ code.
    void script_send(int status, int code);

    // Pushes as QQ sends them: the body, signed with the bot secret at `timestamp` (Unix
    // seconds, default now).
    TestResponse push(const std::string& url, const std::string& body) const;
    // A push with the given signature headers as is (forged, unsigned).
    TestResponse push_raw(const std::string& url, const std::string& body,
                          const std::vector<std::string>& headers) const;
    // hex(Ed25519(seed(secret), timestamp + body)).
    std::string signature(const std::string& timestamp, const std::string& body) const;

    // Payloads (op 0) of the documented events; `at` is the message's timestamp (RFC 3339 with
    // +08:00, as QQ writes it).
    static std::string c2c(
        const std::string& user_openid, const std::string& msg_id, const std::string& text,
        std::chrono::system_clock::time_point at = std::chrono::system_clock::now());
    static std::string group(
        const std::string& group_openid, const std::string& member_openid,
        const std::string& msg_id, const std::string& text,
        std::chrono::system_clock::time_point at = std::chrono::system_clock::now());
    static std::string c2c_image(const std::string& user_openid, const std::string& msg_id);
    static std::string validation(const std::string& plain_token, const std::string& event_ts);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
