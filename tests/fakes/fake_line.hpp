// LINE for tests, as the line adapter meets it (protocols.md §8):
// - the Messaging API on a RecordingServer: /v2/bot/message/reply (Bearer token checked, at
//   most 5 text messages of at most 5,000 characters, each reply token usable once and only
//   while the fake has not expired it: else 400 "Invalid reply token"),
//   /v2/bot/message/push (the same checks; an X-Line-Retry-Key seen before is answered 409
//   and sends nothing) and /v2/bot/chat/loading/start;
// - a webhook client that signs bodies as LINE does (x-line-signature) and builds events.
#pragma once

#include "fakes/recording_server.hpp"
#include "fakes/test_http.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeLine {
public:
    // One text message as the user sees it.
    struct Delivered {
        std::string chat;  // the reply token's chat, or the push's "to"
        std::string via;   // "reply" | "push"
        std::string text;
        std::string retry_key;  // push only
    };

    FakeLine(std::string channel_secret, std::string access_token);
    ~FakeLine();
    FakeLine(const FakeLine&) = delete;
    FakeLine& operator=(const FakeLine&) = delete;

    std::string api_base() const;
    RecordingServer& api();

    std::vector<Delivered> delivered() const;
    bool wait_delivered(std::size_t n,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    // A fresh reply token for a message in chat; expire() makes it stale as LINE would after
    // its lifetime.
    std::string issue_token(const std::string& chat);
    void expire(const std::string& token);
    // The next push is accepted (its messages delivered, its retry key remembered) but the
    // connection is dropped before the answer: the sender cannot know it went through.
    void lose_next_push_answer();

    // ---- webhook ----
    struct Event {
        std::string event_id;
        std::string source_type = "user";  // user | group | room
        std::string user_id;
        std::string chat_id;  // groupId / roomId (ignored for user)
        std::string text;
        std::string reply_token;  // "" = none
        bool redelivery = false;
        std::vector<std::pair<int, int>> self_mentions;  // (index, length) in UTF-16 units
        std::string message_type = "text";
    };
    static nlohmann::json event(const Event& event);
    static std::string body(const std::vector<nlohmann::json>& events);
    // POSTs body with x-line-signature computed with the channel secret, or `signature` as
    // given when not empty ("-" sends none).
    TestResponse post(const std::string& url, const std::string& body,
                      const std::string& signature = {}) const;
    static std::string sign(const std::string& secret, const std::string& body);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
