// The extension point for platforms: the message model, the services the core lends to an
// adapter, and the Adapter interface. An adapter reports facts (who wrote what, in which chat,
// whether it mentions the bot); the core decides policy. Adapters include only this header,
// base/config_reader.hpp and the bot/http + bot/net services -- never the pipeline, llm/ or
// storage/. See adapters/README.md for the checklist.
#pragma once

#include "base/async.hpp"
#include "base/config_reader.hpp"
#include "base/text_format.hpp"
#include "base/text_split.hpp"
#include "bot/http/router.hpp"
#include "bot/net/http_client.hpp"
#include "bot/net/websocket_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bot {

class Logger;

// Where a message came from and where its reply goes.
struct ChatRef {
    std::string adapter_id;
    std::string chat_id;  // private chat: usually the user id; group: the group id
    bool is_group = false;
};

// adapter -> core: facts only.
struct Inbound {
    ChatRef chat;
    std::string sender_id;
    std::string sender_name;
    std::string message_id;  // the platform's id; empty = the core assigns a fresh one
    std::string text;
    // Group messages: the bot was @-mentioned, replied to or given a command. In groups the
    // core answers only these; the rest are not stored at all.
    bool mentions_me = false;
    // Non-empty: content the bot cannot read yet ("photo", "voice", ...). The core answers
    // with a short notice instead of asking the LLM.
    std::string unsupported;
    // The platform id of the message this one quotes or replies to, if any. In groups the core
    // treats a reply to one of the bot's own messages in this chat (an id send() returned) as
    // addressed to the bot, so adapters need not track what they sent.
    std::string quotes_message_id;
    std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
};

// core -> adapter: one part of a reply, already sized to the adapter's Capabilities.
struct Outbound {
    ChatRef chat;
    std::string user_id;   // the user being answered
    std::string reply_to;  // the inbound message id
    std::string text;
    int part = 1;   // 1-based
    int parts = 1;  // total parts of this reply
    // The same on every retry of this part (also after a restart), different for every other
    // part: for platforms' idempotency keys (LINE's X-Line-Retry-Key, iLink's client_id). A
    // UUID in its 36-character text form.
    std::string delivery_key;
};

struct Capabilities {
    TextLimit max_text;  // longest text one send() accepts, in the platform's unit
    // > 0: a reply has at most this many parts (QQ: 5 per user message); a longer one is cut
    // and its last part ends with "…".
    int max_parts = 0;
    // true: the outbox hands every part of a reply to one send_all() call instead of one
    // send() per part (a single-use reply token that carries several messages: LINE's 5).
    bool sends_whole_reply = false;
    // The form the outbox renders the reply's markdown into before sizing it (markdown: as the
    // LLM wrote it). The stored reply and the conversation keep the markdown.
    TextFormat text_format = TextFormat::markdown;
    // The platform hands the adapter group messages not addressed to the bot (submitted with
    // mentions_me false), so adapters.<id>.group_context can keep them (the core does). False
    // where the platform delivers only @-mentions (QQ, WeCom bot, DingTalk).
    bool sees_group_chatter = false;
};

struct SendError {
    // quota_exhausted: the platform's quota for this bot is used up (a monthly or daily send
    // allowance); not retried, logged for the operator.
    enum class Kind { rate_limited, unauthorized, bad_request, transient, quota_exhausted };
    Kind kind = Kind::transient;
    std::string detail;
    std::chrono::seconds retry_after{0};  // rate_limited: wait at least this long
};
using SendResult = boost::system::result<std::string /* platform message id */, SendError>;

// Progress of the reply to one inbound message, as seen by the adapter that received it.
struct ReplyEvent {
    enum class Kind { delta, done, timeout };
    Kind kind = Kind::timeout;
    std::string text;  // delta: new text; done: the whole reply
    std::string conversation_id;
    bool claimed = false;  // done: the adapter delivers this reply itself (SubmitOptions::claim)
};

// A subscription to one reply. Dropping it unsubscribes.
class ReplyWatch {
public:
    struct Channel {
        AsyncQueue<ReplyEvent> events;
        std::atomic<bool> detached{false};
    };

    ReplyWatch() = default;
    explicit ReplyWatch(std::shared_ptr<Channel> channel) : channel_(std::move(channel)) {}
    ReplyWatch(ReplyWatch&&) = default;
    ReplyWatch& operator=(ReplyWatch&&) = default;
    ~ReplyWatch() {
        if (channel_) channel_->detached = true;
    }

    bool valid() const { return channel_ != nullptr; }
    // Deltas in order, then exactly one done or timeout.
    net::awaitable<ReplyEvent> next() {
        auto event = co_await channel_->events.pop();
        co_return event ? std::move(*event) : ReplyEvent{};
    }

private:
    std::shared_ptr<Channel> channel_;
};

struct SubmitOptions {
    // > 0: watch the reply (deltas, then done) for up to this long.
    std::chrono::milliseconds wait{0};
    // When the reply is done within the wait, the adapter delivers it itself (a passive reply
    // in an HTTP response) and the outbox does not call send() for it.
    bool claim = false;
    // false: the watch reports only done/timeout, not the text as it grows.
    bool deltas = true;
};

struct Submission {
    // ignored: a group message not addressed to the bot (nothing stored, nothing answered).
    enum class Status { accepted, duplicate, ignored };
    Status status = Status::accepted;
    std::string message_id;  // as stored (assigned by the core when Inbound had none)
    ReplyWatch watch;        // valid when SubmitOptions::wait > 0
};

// One turn of a user's current conversation, for platforms that show history (web chat).
struct HistoryEntry {
    std::string role;  // "user" | "assistant"
    std::string text;
};

// The core's entry point for inbound messages. submit() completes once the message is durably
// stored (or recognised as a duplicate): only then may a webhook be acknowledged.
class InboundSink {
public:
    virtual ~InboundSink() = default;
    virtual net::awaitable<Submission> submit(Inbound inbound, SubmitOptions options) = 0;
    // The newest max_turns turns of the user's active conversation in chat, oldest first.
    virtual net::awaitable<std::vector<HistoryEntry>> history(ChatRef chat, std::string user_id,
                                                              int max_turns) = 0;
};

// Small durable state an adapter keeps across restarts (bound accounts, poll cursors, reply
// tokens), in the core's database. Keys are scoped to the adapter instance; values are opaque
// text. Writes complete once committed.
class AdapterState {
public:
    struct Entry {
        std::string key;
        std::string value;
        std::int64_t version = 0;  // grows with every write, also another process's
    };

    virtual ~AdapterState() = default;
    virtual net::awaitable<void> put(std::string kind, std::string key, std::string value) = 0;
    virtual net::awaitable<std::optional<std::string>> get(std::string kind, std::string key) = 0;
    // Entries of kind written after version (0: all), oldest write first.
    virtual net::awaitable<std::vector<Entry>> changes(std::string kind,
                                                       std::int64_t after_version) = 0;
    virtual net::awaitable<void> erase(std::string kind, std::string key) = 0;
};

// Everything an adapter may use. The referenced services outlive the adapter.
struct AdapterDeps {
    std::string id;       // the operator's name for this instance ("tg-main")
    ConfigReader config;  // its config section; read every key, then done()
    net::any_io_executor executor;
    InboundSink& sink;
    http::Router& routes;  // webhook adapters mount routes in their constructor
    HttpClient& http;
    WebSocketClient& websockets;  // platforms that push over a socket the bot dials
    Logger& log;
    AdapterState& state;
    std::filesystem::path data_dir;  // where adapter state files may live
    bool validate_only = false;      // check-config: read the config, touch nothing else
    // The core's command prefix (bot.command_prefix): platforms without command entities tell
    // a group command for the bot by it (a "/reset" in a QQ group addresses the bot).
    std::string command_prefix = "/";
    // server.public_url is set: /share and /export work (the web chat shows a share button).
    bool user_pages = false;
};

class Adapter {
public:
    virtual ~Adapter() = default;
    virtual Capabilities capabilities() const = 0;
    // Sends one part of a reply. Only the outbox calls this.
    virtual net::awaitable<SendResult> send(Outbound message) = 0;
    // Capabilities::sends_whole_reply: sends every part of one reply (in order) at once; the
    // result stands for all of them (the id is the last part's).
    virtual net::awaitable<SendResult> send_all(std::vector<Outbound> parts) {
        SendResult result = SendError{.kind = SendError::Kind::bad_request, .detail = "no parts"};
        for (auto& part : parts) {
            result = co_await send(std::move(part));
            if (!result) break;
        }
        co_return result;
    }
    // Pull-style platforms (long polling, gateways) loop here until stop(); may throw, and the
    // core restarts it with backoff.
    virtual net::awaitable<void> run() { co_return; }
    virtual void stop() {}
};

using AdapterFactory = std::unique_ptr<Adapter> (*)(AdapterDeps deps);

}  // namespace bot
