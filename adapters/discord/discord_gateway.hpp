// The Discord gateway session (developers/events/gateway.mdx): the URL from GET /gateway/bot,
// Hello -> heartbeats (the first after interval x random, then every interval with the last
// seq; no ACK between two beats = a zombie, closed with 4000 and resumed), Identify -> Ready
// (session_id, resume_gateway_url, the bot's user id), Resume on resume_gateway_url after a
// drop, op 7 Reconnect, op 9 Invalid Session, close codes that forbid reconnecting, the 120
// sends per 60 s limit, and the session start limit. Dispatched messages go to a callback.
#pragma once

#include "base/async.hpp"
#include "base/rate_limit.hpp"
#include "bot/net/reconnect_loop.hpp"
#include "bot/net/websocket_client.hpp"
#include "discord/discord_api.hpp"
#include "discord/discord_codec.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

namespace bot::adapters::discord {

struct GatewayOptions {
    std::string id;  // the adapter's, for the log
    std::string token;
    std::int64_t intents = kDefaultIntents;
};

class Gateway {
public:
    // Called on the read loop for every MESSAGE_CREATE: hand the work off, never wait long.
    using OnMessage = std::function<net::awaitable<void>(const Message&)>;

    Gateway(net::any_io_executor executor, WebSocketClient& websockets, DiscordApi& api,
            Logger& log, GatewayOptions options, OnMessage on_message);

    // Sessions one after another until stop() or a close code that forbids reconnecting.
    net::awaitable<void> run();
    void stop();
    std::string bot_user_id() const;

    struct Link;

private:
    enum class Ending { resume, identify, stop };

    net::awaitable<void> session(bool* fatal);
    net::awaitable<std::string> identify_url();
    net::awaitable<Ending> read(std::shared_ptr<Link> link, bool resuming);
    net::awaitable<void> heartbeat(std::shared_ptr<Link> link, std::chrono::milliseconds interval);
    net::awaitable<void> await_hello(std::shared_ptr<Link> link);
    void forget_session();
    std::chrono::milliseconds random_between(std::chrono::milliseconds low,
                                             std::chrono::milliseconds high);

    net::any_io_executor executor_;
    WebSocketClient& websockets_;
    DiscordApi& api_;
    Logger& log_;
    GatewayOptions options_;
    OnMessage on_message_;
    AsyncEvent stopped_;
    ReconnectLoop reconnect_;

    // Session state (one session at a time; the heartbeat reads seq_ beside the reader).
    std::string cached_url_;  // from GET /gateway/bot
    std::string session_id_;
    std::string resume_url_;
    std::atomic<std::int64_t> seq_{0};  // 0: none yet
    std::chrono::steady_clock::time_point last_identify_{};
    std::chrono::milliseconds identify_gap_{5000};
    mutable std::mutex user_mutex_;
    std::string bot_user_id_;
    std::mutex random_mutex_;
    std::minstd_rand random_{std::random_device{}()};
};

}  // namespace bot::adapters::discord
