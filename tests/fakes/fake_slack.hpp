// Slack for tests, as the slack adapter meets it (protocols.md §6):
// - the Web API on a RecordingServer under /api/: auth.test and chat.postMessage / chat.update
//   (Bearer bot token checked, channel and text required, msg_too_long above 40,000
//   characters, message_not_found for an unknown ts), apps.connections.open (Bearer app token;
//   a single-use ticket in the URL it returns);
// - the Socket Mode websocket the bot dials with its ticket (401 without a valid one): "hello"
//   on open, events_api envelopes pushed, every acknowledgement recorded by envelope_id, and
//   "disconnect" notices after which the server closes the socket later;
// - an Events API client that signs requests as Slack does (v0, HMAC-SHA256).
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

class FakeSlack {
public:
    // A message as it stands in a channel.
    struct Message {
        std::string channel;
        std::string ts;
        std::string thread_ts;  // "" at the top of the channel
        std::string text;       // the latest text (after updates)
        int updates = 0;        // chat.update calls that changed it
        bool mrkdwn = false;
    };

    static constexpr const char* kBotUser = "UBOT0001";
    static constexpr const char* kBotId = "BBOT0001";

    FakeSlack(std::string bot_token, std::string app_token, std::string signing_secret);
    ~FakeSlack();
    FakeSlack(const FakeSlack&) = delete;
    FakeSlack& operator=(const FakeSlack&) = delete;

    std::string api_base() const;  // ".../api", for the adapter's api_base
    RecordingServer& api();

    // ---- Web API ----
    std::vector<Message> messages() const;  // posted, oldest first
    bool wait_messages(std::size_t n,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::size_t update_calls() const;
    // false: posted messages are not kept (benches; chat.update then finds none).
    void record(bool on);
    // Called on the fake's thread for every chat.postMessage accepted; keep it short.
    void on_message(std::function<void(const Message&)> observer);

    // ---- Socket Mode ----
    int connections() const;  // upgrades accepted so far
    bool wait_connections(int n,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    int refused_upgrades() const;
    // An events_api envelope carrying event on the newest open connection; its envelope_id
    // ("" when none is open).
    std::string push(const nlohmann::json& event, const std::string& event_id = {});
    std::string push_text(const std::string& frame);  // any text, as is
    // A disconnect notice on the newest open connection, which the server drops close_after
    // later unless the bot closed it first.
    void disconnect(const std::string& reason, std::chrono::milliseconds close_after);
    bool acked(const std::string& envelope_id) const;
    bool wait_ack(const std::string& envelope_id,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    bool closed(int connection) const;  // 0-based, in order of acceptance

    // ---- payloads ----
    static nlohmann::json dm(const std::string& user, const std::string& ts,
                             const std::string& text);
    // An app_mention in channel: "<@UBOT0001> text".
    static nlohmann::json mention(const std::string& channel, const std::string& user,
                                  const std::string& ts, const std::string& text,
                                  const std::string& thread_ts = {});
    // The Events API body around event.
    static nlohmann::json callback(const nlohmann::json& event, const std::string& event_id);

    // ---- Events API client ----
    // POSTs body signed at timestamp (default now), with X-Slack-Retry-Num when retry > 0.
    TestResponse post(const std::string& url, const std::string& body, std::int64_t timestamp = 0,
                      int retry = 0) const;
    static std::string sign(const std::string& secret, const std::string& timestamp,
                            const std::string& body);
    static std::int64_t now_s();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
