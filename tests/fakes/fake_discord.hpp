// Discord for tests, on loopback: the REST API the adapter calls (GET /gateway/bot, create and
// edit messages, typing; the bot token checked, 2,000-character limit enforced, rate-limit
// headers sent) on a RecordingServer, and the gateway websocket: Hello, heartbeats ACKed
// (unless told not to), Identify -> READY with a session, Resume -> the missed dispatches
// replayed then RESUMED, server-side closes with a code, a connection that vanishes.
#pragma once

#include "fakes/recording_server.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeDiscord {
public:
    static constexpr const char* kToken = "MTEwMDAw.fake-discord.bot-token-0123456789";
    static constexpr const char* kBotId = "1100000000000000001";
    static constexpr const char* kBotName = "contactbot";

    FakeDiscord();
    ~FakeDiscord();
    FakeDiscord(const FakeDiscord&) = delete;
    FakeDiscord& operator=(const FakeDiscord&) = delete;

    RecordingServer& api();
    std::string api_base() const;  // the adapter's api_base: "http://127.0.0.1:<port>/api/v10"

    // --- gateway -----------------------------------------------------------------------------
    void set_heartbeat_interval(std::chrono::milliseconds interval);  // in the next Hellos
    void set_acks(bool on);              // false: heartbeats are no longer ACKed (a zombie)
    void fail_identify(int close_code);  // the next Identify is answered by closing with it
    // On a Resume, also replay this many dispatches the bot had already seen.
    void set_replay_extra(int count);
    int connections() const;  // websocket connections accepted so far
    bool wait_connections(int n,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    int identifies() const;
    int resumes() const;
    std::size_t heartbeats() const;
    // Sessions that reached READY or RESUMED (the bot can be sent events).
    bool wait_sessions(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    std::vector<std::string> targets() const;     // path+query of every upgrade, in order
    std::vector<int> client_close_codes() const;  // codes of the bot's own closes
    bool wait_client_closes(std::size_t n,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    // A MESSAGE_CREATE with the next seq: sent now when a session is live, and kept for the
    // replay of a Resume either way. Returns its seq.
    std::int64_t dispatch_message(const nlohmann::json& message);
    // A MESSAGE_CREATE whose "d" is this JSON text, as is (benches); false when no session is
    // live. Kept for replays only while recording.
    bool dispatch_raw(const std::string& message_json);
    bool send_payload(const nlohmann::json& payload);  // any payload on the current connection
    void drop();           // the current connection vanishes (no close frame)
    void close(int code);  // the server closes the current connection with code

    // --- REST --------------------------------------------------------------------------------
    struct Sent {
        std::string id;
        std::string channel;
        std::string content;  // the latest (after edits)
        std::string reply_to;
        nlohmann::json allowed_mentions;
        std::vector<std::string> edits;  // every PATCHed content, in order
    };
    std::vector<Sent> messages() const;
    std::size_t typing_count() const;
    std::size_t gateway_bot_requests() const;
    // Called on the fake's thread for every message the bot creates (channel, content).
    void on_reply(std::function<void(const std::string&, const std::string&)> observer);
    // false: stop storing created messages and dispatches (benches; the observer goes on).
    void record(bool on);

    // --- events ------------------------------------------------------------------------------
    static nlohmann::json user(const std::string& id, const std::string& name, bool bot = false);
    static nlohmann::json dm(const std::string& id, const std::string& channel,
                             const std::string& author, const std::string& content);
    static nlohmann::json guild_message(const std::string& id, const std::string& channel,
                                        const std::string& author, const std::string& content,
                                        nlohmann::json mentions = nlohmann::json::array());

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
