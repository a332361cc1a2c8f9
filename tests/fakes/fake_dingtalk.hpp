// DingTalk for tests, as the dingtalk adapter meets it (longconn-protocols.md §2, protocols.md
// §4):
// - REST on a RecordingServer: oauth2/accessToken (strict credentials, counted, tokens that
//   expire or are revoked, an optional delay), gateway/connections/open (strict credentials,
//   Accept: application/json or an XML answer, the robot topic subscribed; single-use tickets
//   valid 90 s), robot/oToMessages/batchSend and robot/groupMessages/send (token, robotCode and
//   message checked), and session webhooks (robot/sendBySession?session=...) that answer
//   errcode 300001 once expired;
// - the Stream websocket the bot dials with its ticket (401 without a valid one): it pushes
//   robot messages as CALLBACK frames, sends SYSTEM pings and disconnects, records every frame
//   the bot sends (the ACKs), and can stop reading a connection (a dead peer);
// - an HTTP-mode client that signs pushes as DingTalk does.
#pragma once

#include "fakes/recording_server.hpp"
#include "fakes/test_http.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeDingtalk {
public:
    // A message as it reached a chat.
    struct Sent {
        std::string via;     // "webhook", "batchSend", "groupSend"
        std::string target;  // the webhook's session, the userId or the openConversationId
        std::string type;    // "text" or "markdown" (sampleText / sampleMarkdown)
        std::string text;
        std::string title;                  // markdown
        std::vector<std::string> at_users;  // webhook at.atUserIds
    };

    FakeDingtalk(std::string client_id, std::string client_secret);
    ~FakeDingtalk();
    FakeDingtalk(const FakeDingtalk&) = delete;
    FakeDingtalk& operator=(const FakeDingtalk&) = delete;

    std::string api_base() const;
    RecordingServer& api();

    // ---- REST ----
    std::vector<Sent> sent() const;
    bool wait_sent(std::size_t n,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t token_fetches() const;
    std::size_t registrations() const;  // tickets issued
    void expire_token();                // calls with the current token get 401 from now on
    void token_delay(std::chrono::milliseconds delay);
    // false: sends are recorded only as counts (benches).
    void record(bool on);
    // Called on the fake's thread for every message delivered; keep it short.
    void on_sent(std::function<void(const Sent&)> observer);
    std::size_t sent_count() const;

    // Session webhooks: the URL for a conversation, valid until expire_webhook().
    std::string webhook_url(const std::string& conversation) const;
    void expire_webhook(const std::string& conversation);

    // ---- Stream ----
    int connections() const;  // upgrades accepted so far
    int open_connections() const;
    bool wait_connections(int n,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    // Upgrades refused (no ticket, a used or an expired one).
    int refused_upgrades() const;
    // A CALLBACK frame with the robot message on the newest open connection; its messageId, or
    // "" when no connection is open.
    std::string push(const nlohmann::json& message);
    std::string push_data(const std::string& message);  // the robot message's JSON text
    std::string push_text(const std::string& frame);    // any text, as is
    std::string ping();                                 // SYSTEM ping; its messageId
    // SYSTEM disconnect on the newest open connection, which the server closes close_after
    // later (DingTalk: ~10 s) unless the bot closed it first.
    void disconnect(std::chrono::milliseconds close_after);
    // The newest open connection stops reading: no pongs, no ACKs read (a dead peer).
    void freeze();
    // The frame the bot answered messageId with (null until then).
    nlohmann::json ack(const std::string& message_id) const;
    bool wait_ack(const std::string& message_id,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t acks() const;
    // The connection (0-based, in order of acceptance) is closed.
    bool closed(int connection) const;

    // ---- payloads and the HTTP-mode client ----
    // conversationType "1"; the session webhook valid for an hour unless expires_ms says.
    nlohmann::json private_message(const std::string& staff_id, const std::string& msg_id,
                                   const std::string& text, std::int64_t expires_ms = 0) const;
    nlohmann::json group_message(const std::string& conversation, const std::string& staff_id,
                                 const std::string& msg_id, const std::string& text,
                                 std::int64_t expires_ms = 0) const;
    // POSTs body signed at timestamp_ms (default now).
    TestResponse post(const std::string& url, const std::string& body,
                      std::int64_t timestamp_ms = 0) const;
    static std::string sign(const std::string& timestamp, const std::string& secret);
    static std::int64_t now_ms();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
