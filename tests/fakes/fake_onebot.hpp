// A OneBot v11 implementation for tests (a NapCat stand-in), on its own thread: one QQ account.
// Reverse mode: it dials the bot's websocket route with X-Self-ID, X-Client-Role and the
// access token, as NapCat does. Forward mode: it listens on loopback and the bot dials it
// (the token checked, 401 when wrong). Either way it pushes events the test writes and answers
// every action with its echo: {"status":"ok","retcode":0,"data":{"message_id":N}} with
// increasing N, unless told to fail or to stay silent.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeOneBot {
public:
    explicit FakeOneBot(std::int64_t self_id = 10001000);
    ~FakeOneBot();
    FakeOneBot(const FakeOneBot&) = delete;
    FakeOneBot& operator=(const FakeOneBot&) = delete;

    std::int64_t self_id() const;

    // Reverse mode: opens a connection to ws://127.0.0.1:port{target}. Returns the upgrade's
    // status (101 when accepted). The new connection becomes the current one; the previous one
    // stays open until the bot closes it.
    int connect(unsigned short port, const std::string& target, const std::string& token = {},
                const std::string& role = "Universal");
    // Forward mode: listens on 127.0.0.1 (a free port); every accepted connection becomes the
    // current one. Returns the port.
    unsigned short listen(const std::string& token = {});
    std::string url() const;  // "ws://127.0.0.1:<port>" after listen()
    int accepted() const;     // forward connections accepted so far
    // Authorization header of the last forward upgrade request.
    std::string last_authorization() const;

    // Sends a frame on the current connection; false when there is none open.
    bool post(const nlohmann::json& frame);
    bool post_text(const std::string& text);
    bool connected() const;
    // Blocks until the current connection is closed (true) or timeout passes.
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    void close();  // a clean close of the current connection
    void drop();   // the current connection vanishes (no close frame)

    // Events as an implementation writes them.
    nlohmann::json private_message(std::int64_t user, std::int64_t message_id,
                                   const std::string& text) const;
    // segments: a segment array, or a CQ string.
    nlohmann::json group_message(std::int64_t group, std::int64_t user, std::int64_t message_id,
                                 nlohmann::json segments) const;
    nlohmann::json heartbeat(std::int64_t interval_ms) const;

    // Actions received (action, params, echo), in order.
    std::vector<nlohmann::json> actions() const;
    std::size_t action_count() const;
    bool wait_actions(std::size_t n,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    // The message_id the n-th (0-based) answered action got.
    std::int64_t sent_id(std::size_t n) const;
    // false: actions are recorded but not answered (a hung implementation).
    void answer(bool on);
    // The next action is answered {"status":"failed","retcode":retcode}.
    void fail_next(std::int64_t retcode);
    // Called on the fake's thread for every action; keep it short.
    void on_action(std::function<void(const nlohmann::json&)> observer);
    // false: stop storing actions (counts and the observer go on), for benches.
    void record(bool on);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
