// A Feishu / Lark open platform for tests, on loopback: the REST API the adapter calls
// (tenant_access_token with strict credentials and a fetch counter, bot info, replies, CardKit
// cards with sequence checks, the long connection's endpoint) on a RecordingServer, the long
// connection's websocket (pbbp2 frames: pongs carrying ClientConfig, events whole or split,
// response frames recorded, server-side closes), and a webhook client that signs and encrypts
// pushes as Feishu does.
#pragma once

#include "fakes/recording_server.hpp"
#include "fakes/test_http.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bot::testing {

class FakeFeishu {
public:
    static constexpr const char* kAppId = "cli_a1b2c3d4e5f60718";
    static constexpr const char* kAppSecret = "feishu-app-secret-0123456789";
    static constexpr const char* kBotOpenId = "ou_bot000000000000000000000000000";
    static constexpr std::int32_t kServiceId = 33555434;

    FakeFeishu();
    ~FakeFeishu();
    FakeFeishu(const FakeFeishu&) = delete;
    FakeFeishu& operator=(const FakeFeishu&) = delete;

    RecordingServer& api();
    std::string base_url() const;  // the adapter's "domain"

    // --- REST ------------------------------------------------------------------------------
    std::size_t token_fetches() const;
    void set_token_lifetime(std::chrono::seconds seconds);  // "expire" of the next tokens
    // Each token request is answered this late (concurrent callers pile up meanwhile).
    void set_token_delay(std::chrono::milliseconds delay);
    void revoke_tokens();                  // every issued token is refused from now on (99991663)
    void set_bot_info_available(bool on);  // false: bot info answers 500
    // Texts of the text messages the bot sent (replies and new), in order.
    std::vector<std::string> sent_texts() const;
    // A card's current text, its sequences in order, and whether streaming ended.
    struct Card {
        std::string text;
        std::vector<std::int64_t> sequences;
        std::vector<std::string> texts;  // every text written to it, in order
        bool streaming = true;
        std::string reply_to;  // the message the card answered
    };
    std::vector<Card> cards() const;
    // Replies (any msg_type) answering message_id.
    std::size_t replies_to(const std::string& message_id) const;

    // The next endpoint request answers {"code": code} (403, 514, 1000040350...).
    void fail_endpoint(std::int64_t code);
    std::size_t endpoint_requests() const;
    void set_client_config(nlohmann::json config);  // ClientConfig in endpoint answers and pongs

    // --- long connection -------------------------------------------------------------------
    int connections() const;  // websocket connections accepted so far
    bool wait_connections(int n,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    bool connected() const;
    // An event pushed on the current connection as one data frame, or split into `parts`
    // frames (sum/seq headers); the frames' SeqID.
    std::uint64_t push(const nlohmann::json& event, int parts = 1);
    // An event's JSON text as one data frame, as is (benches); false when not connected.
    bool push_payload(std::string payload);
    // Called on the fake's thread for every text reply (the message answered, the text).
    void on_reply(std::function<void(const std::string&, const std::string&)> observer);
    // false: stop storing sent texts (benches; the observer goes on).
    void record(bool on);
    // Raw bytes as one binary message (malformed frames).
    bool push_raw(const std::string& bytes);
    // Response frames received, as (SeqID, payload JSON, headers as an object).
    struct Response {
        std::uint64_t seq_id = 0;
        std::uint64_t log_id = 0;
        nlohmann::json payload;
        nlohmann::json headers;
    };
    std::vector<Response> responses() const;
    bool wait_responses(std::size_t n,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t pings() const;  // ping frames received (all connections)
    bool wait_pings(std::size_t n,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::string last_ws_target() const;  // the path+query the bot dialled
    void close();                        // the server ends the current connection (a close frame)

    // --- events ----------------------------------------------------------------------------
    // im.message.receive_v1 as Feishu writes it (schema 2.0). mentions: {key, open_id, name}.
    struct MentionSpec {
        std::string key;
        std::string open_id;
        std::string name;
    };
    static nlohmann::json message_event(const std::string& event_id, const std::string& message_id,
                                        const std::string& chat_id, const std::string& chat_type,
                                        const std::string& sender_open_id,
                                        const std::string& message_type,
                                        const nlohmann::json& content,
                                        const std::vector<MentionSpec>& mentions = {},
                                        const std::string& parent_id = {},
                                        const std::string& token = {});
    static nlohmann::json text_event(const std::string& message_id, const std::string& chat_id,
                                     const std::string& sender_open_id, const std::string& text,
                                     const std::string& token = {});

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Pushes to the bot's webhook route as Feishu does: encrypted with the Encrypt Key when one is
// given (IV random), signed (X-Lark-Request-Timestamp/Nonce/Signature).
class FeishuWebhook {
public:
    FeishuWebhook(std::string url, std::string encrypt_key);
    // The body as sent (encrypted when a key is set).
    std::string body_of(const nlohmann::json& event) const;
    TestResponse post(const nlohmann::json& event, std::optional<std::time_t> at = {}) const;
    // The body as is, with these signature headers (forged, stale).
    TestResponse post_raw(const std::string& body, const std::string& timestamp,
                          const std::string& nonce, const std::string& signature) const;
    std::string sign(const std::string& timestamp, const std::string& nonce,
                     const std::string& body) const;

private:
    std::string url_;
    std::string encrypt_key_;
};

}  // namespace bot::testing
