// The loop a gateway-style adapter runs in Adapter::run(): dial, run the session until the
// connection ends, wait, dial again -- for platforms that push over a socket the bot dials
// (OneBot forward, Discord gateway, Slack Socket Mode, Feishu / DingTalk long connections).
//
// Between sessions it waits an exponential backoff with jitter (base/async.hpp backoff_delay),
// also after a session that failed at once: a peer refusing every connect is asked again at a
// falling rate, never in a spin. A session that lasted healthy_after counts as healthy: the wait
// after it starts again from first_delay, and the next session is told it may resume.
#pragma once

#include "bot/net/websocket_client.hpp"

#include "base/async.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace bot {

class Logger;

struct ReconnectOptions {
    std::chrono::milliseconds first_delay{1'000};  // the wait after the first short session
    std::chrono::milliseconds max_delay{60'000};   // the waits double up to this
    // A session that lasted this long was healthy: the backoff starts over.
    std::chrono::milliseconds healthy_after{60'000};
};

// What a session is told when it starts.
struct ReconnectAttempt {
    std::uint64_t number = 1;  // 1 for the first session of this run()
    int failures = 0;          // short sessions in a row just before this one
    // The previous session was healthy when it ended: a platform with resumable sessions
    // (Discord's RESUME, a sequence number to replay from) tries to resume it.
    bool resume = false;
    std::string previous_error;  // why the previous session ended, when it threw
};

class ReconnectLoop {
public:
    // One session: connect, watch() the connection, read until it ends. Returning or throwing
    // both end the session (a throw is logged as its reason).
    using Session = std::function<net::awaitable<void>(const ReconnectAttempt&)>;

    // name: for the log ("onebot qq-main").
    ReconnectLoop(net::any_io_executor executor, Logger& log, std::string name,
                  ReconnectOptions options = {});
    ReconnectLoop(const ReconnectLoop&) = delete;
    ReconnectLoop& operator=(const ReconnectLoop&) = delete;

    // Runs sessions one after another until stop(); then returns (never throws for a session's
    // failure). Once per loop.
    net::awaitable<void> run(Session session);

    // Thread-safe and prompt: the wait between sessions ends, the watched connection is closed
    // (1001), and no session starts after it. A connect() still in progress is not interrupted:
    // it ends at its connect_timeout (or at WebSocketClient::shutdown()), and a connection it
    // returns is closed as soon as it is watched.
    void stop();
    bool stopped() const { return stop_.is_set(); }

    // The platform's own reconnect interval (Feishu's ClientConfig.ReconnectInterval): the
    // waits double up to it instead of ReconnectOptions::max_delay (never below first_delay).
    // Thread-safe; takes effect from the next wait.
    void set_max_delay(std::chrono::milliseconds max_delay);

    // The running session's connection, which stop() closes. Replaces the one before.
    void watch(std::shared_ptr<WebSocketConnection> connection);

private:
    Logger& log_;
    const std::string name_;
    const ReconnectOptions options_;
    std::atomic<std::int64_t> max_delay_ms_;
    AsyncEvent stop_;
    std::mutex mutex_;
    std::shared_ptr<WebSocketConnection> watched_;
};

}  // namespace bot
