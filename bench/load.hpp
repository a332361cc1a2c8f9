// The load generator: N users each send M messages to contactbot, one at a time (the next only
// after the reply to the previous one), over a few keep-alive HTTP/1.1 connections driven by
// Asio coroutines. Through the http_api adapter the reply is the response; through the Telegram
// webhook it arrives later as a sendMessage on the fake Bot API, which the caller feeds into
// Load::on_send_message. One thread: the generator shares the machine with the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bench {

// ilink: WeChat iLink accounts long-polling a fake iLink server (bench/ilink_bench.hpp).
// onebot: QQ through the onebot adapter, one reverse websocket from a fake NapCat.
// feishu: Feishu's long connection, the bot dialling a fake Feishu (replies by its REST API).
// dingtalk: the dingtalk adapter in Stream mode: it dials a fake DingTalk's websocket, replies
// go to the messages' session webhooks (HTTP on the fake).
// slack: the slack adapter in Socket Mode: it dials a fake Slack's websocket (events_api
// envelopes with DMs), replies by chat.postMessage on the fake.
// discord: the discord adapter dials a fake Discord gateway; DMs in, replies by its REST API.
enum class Path { http_api, telegram, ilink, onebot, feishu, dingtalk, slack, discord };

std::string to_string(Path path);

// The QQ account the fake OneBot implementation logs in as.
inline constexpr std::int64_t kOnebotSelfId = 10001000;

struct LoadPlan {
    Path path = Path::http_api;
    int users = 1;
    int messages = 1;          // per user
    int connections = 1;       // keep-alive connections to contactbot
    int in_flight = 1;         // users waiting for a reply at once (>= connections on telegram)
    std::uint16_t port = 0;    // contactbot's
    std::string api_token;     // http_api bearer token
    std::string webhook_path;  // telegram: /telegram/<adapter id>
    std::string secret_token;  // telegram: X-Telegram-Bot-Api-Secret-Token
    bool stream = false;       // http_api: ask for the reply as server-sent events
    std::chrono::seconds reply_timeout{60};  // a reply later than this counts as lost
    std::chrono::milliseconds settle{1000};  // telegram: wait for stray duplicates at the end
    // onebot, feishu, dingtalk, slack, discord: sends an event on the fake platform's socket
    // (false: not sent).
    std::function<bool(std::string frame)> post_frame;
    // dingtalk: the fake's session webhook URL without the conversation ("...?session=s-").
    std::string dingtalk_webhook_base;
};

struct LoadResult {
    std::uint64_t messages = 0;      // planned
    std::uint64_t replied = 0;       // got their reply in time (once or more)
    std::uint64_t lost = 0;          // no reply in time (late ones included)
    std::uint64_t duplicated = 0;    // replies seen more than once (extra copies)
    std::uint64_t unexpected = 0;    // replies matching no message sent, or a wrong text
    std::uint64_t errors = 0;        // non-2xx answers and transport failures (retried ones too)
    std::uint64_t late = 0;          // replies that came after reply_timeout (counted lost)
    std::uint64_t peak_waiting = 0;  // most messages waiting for their reply at once
    double seconds = 0;              // first request to last reply
    std::vector<std::uint32_t> latency_us;  // per replied message, unordered
};

// Telegram chat id (and sender id) of user u; distinct per user.
std::int64_t chat_id_of(int user);
// The text user u sends as its message k, and the reply the fake LLM gives to it.
std::string message_text(int user, int k);
std::string reply_text(int user, int k);

class Load {
public:
    explicit Load(LoadPlan plan);
    ~Load();
    Load(const Load&) = delete;
    Load& operator=(const Load&) = delete;

    // Plays the plan; blocks until every message got its reply or timed out.
    LoadResult run();
    // A sendMessage seen by the fake Bot API, or a send_private_msg by the fake OneBot
    // implementation (any thread).
    void on_send_message(std::int64_t chat_id, const std::string& text);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bench
