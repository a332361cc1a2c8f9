// discord: a Discord bot over the gateway (no public address needed): DMs always, guild
// messages that mention the bot, reply to it or start with the prefix; replies through REST,
// streamed by editing the first message. Config and the Developer Portal steps: README.md.
#include "base/keyed_order.hpp"
#include "base/log.hpp"
#include "base/string_map.hpp"
#include "bot/adapter.hpp"
#include "discord/discord_api.hpp"
#include "discord/discord_codec.hpp"
#include "discord/discord_gateway.hpp"
#include "discord/discord_live.hpp"

#include <mutex>

namespace bot::adapters::discord {

namespace {

// 2,000 characters a message (message.mdx lines 1080, 1200).
constexpr TextLimit kMaxText{.max = 2000, .unit = TextLimit::Unit::code_points};
// Messages stored at once from the gateway; the read loop waits beyond it.
constexpr std::size_t kMaxSubmitting = 1024;
constexpr std::size_t kMaxQueuedPerSender = 64;
// How long a reply is followed for typing and streamed edits (then the outbox still sends it).
constexpr auto kFollowReplyFor = std::chrono::minutes(10);

class DiscordAdapter final : public Adapter {
public:
    explicit DiscordAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          log_(deps.log),
          ordered_(deps.executor, kMaxSubmitting, kMaxQueuedPerSender) {
        auto& config = deps.config;
        config.string("type", "discord");
        token_ = config.required_string("bot_token");
        if (token_.find_first_of(" \t\r\n") != std::string::npos || token_.starts_with("Bot "))
            config.problem("bot_token",
                           "must be the bare token from the Developer Portal (Bot > Reset Token), "
                           "without \"Bot \"");
        std::string api_base = config.url("api_base", "https://discord.com/api/v10");
        intents_ = config.integer("intents", kDefaultIntents, 0, (std::int64_t{1} << 26) - 1);
        prefix_ = config.string("prefix", "");
        LiveOptions live;
        live.streaming = config.boolean("streaming", true);
        live.stream_interval =
            std::chrono::milliseconds(config.integer("stream_interval_ms", 1500, 1000, 60000));
        live.typing = config.boolean("typing", true);
        streaming_ = live.streaming;
        follow_replies_ = live.streaming || live.typing;
        config.done();
        if (!config.errors().empty() || deps.validate_only) return;
        if ((intents_ & kMessageContent) == 0) {
            log_.warn("discord", "'", id_,
                      "': intents without MESSAGE_CONTENT (32768): guild "
                      "messages arrive without text unless they mention the bot");
        }
        log_.add_secret(token_);
        api_.emplace(deps.http, api_base, token_);
        live_.emplace(executor_, *api_, log_, live);
        gateway_.emplace(executor_, deps.websockets, *api_, log_,
                         GatewayOptions{.id = id_, .token = token_, .intents = intents_},
                         [this](const Message& message) { return on_message(message); });
    }

    Capabilities capabilities() const override {
        return {.max_text = kMaxText, .text_format = TextFormat::discord_markdown};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        const std::string& channel = message.chat.chat_id;
        if (!is_snowflake(channel)) {
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail = "not a Discord channel id: " + channel};
        }
        if (message.part == 1 && follow_replies_) {
            // A streamed preview becomes the first part instead of staying beside it.
            std::string streamed = take_streamed(message.reply_to);
            if (streamed.empty()) {
                if (auto followed = live_->take(message.reply_to))
                    streamed = co_await live_->finish(std::move(followed));
            }
            if (!streamed.empty()) {
                auto edited = co_await api_->edit_message(channel, streamed, message.text);
                if (edited) co_return edited;
                if (edited.error().kind == SendError::Kind::transient ||
                    edited.error().kind == SendError::Kind::rate_limited) {
                    keep_streamed(message.reply_to, streamed);  // the retry edits it again
                    co_return edited;
                }
                // Deleted meanwhile: the answer goes as a new message.
                log_.debug("discord", "'", id_, "': the preview could not be edited (",
                           edited.error().detail, "); sending the reply anew");
            }
        }
        // The first part answers the user's message; the rest follow it.
        const std::string_view reply_to = message.part == 1 && is_snowflake(message.reply_to)
                                              ? std::string_view(message.reply_to)
                                              : std::string_view();
        auto result = co_await api_->create_message(channel, message.text, reply_to);
        if (!result && result.error().kind == SendError::Kind::unauthorized)
            log_.error("discord", "'", id_, "': ", result.error().detail);
        co_return result;
    }

    net::awaitable<void> run() override {
        if (!gateway_) co_return;
        co_await gateway_->run();
        // Messages still being stored hold this adapter: wait for them (briefly).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (ordered_.keys() > 0 && std::chrono::steady_clock::now() < deadline)
            co_await sleep_for(std::chrono::milliseconds(10));
    }

    void stop() override {
        if (gateway_) gateway_->stop();
    }

private:
    std::string take_streamed(const std::string& reply_to) {
        std::lock_guard lock(streamed_mutex_);
        auto it = streamed_.find(reply_to);
        if (it == streamed_.end()) return {};
        std::string id = std::move(it->second);
        streamed_.erase(it);
        return id;
    }

    void keep_streamed(const std::string& reply_to, const std::string& id) {
        std::lock_guard lock(streamed_mutex_);
        if (streamed_.size() < 10'000) streamed_[reply_to] = id;
    }

    // On the gateway's read loop: decides, then hands the store to KeyedOrder (side by side
    // across senders, in order within one), so the loop keeps reading and beating.
    net::awaitable<void> on_message(const Message& message) {
        AddressRules rules{
            .adapter_id = id_, .bot_user_id = gateway_->bot_user_id(), .prefix = prefix_};
        auto addressed = to_inbound(message, rules);
        if (!addressed.accepted) {
            log_.debug("discord", "'", id_, "': skipped ", addressed.reason);
            co_return;
        }
        std::string key = addressed.inbound.chat.chat_id + '\n' + addressed.inbound.sender_id;
        auto store = [this,
                      inbound = std::move(addressed.inbound)]() mutable -> net::awaitable<void> {
            co_await accept(std::move(inbound));
        };
        if (!co_await ordered_.add(std::move(key), std::move(store))) {
            log_.warn("discord", "'", id_, "': a sender has ", kMaxQueuedPerSender,
                      " messages waiting to be stored; one more skipped");
        }
    }

    net::awaitable<void> accept(Inbound inbound) {
        LiveReplies::Handle live;
        if (follow_replies_) live = live_->expect(inbound.chat.chat_id, inbound.message_id);
        SubmitOptions options{.wait = live ? std::chrono::milliseconds(kFollowReplyFor)
                                           : std::chrono::milliseconds(0),
                              .claim = false,
                              .deltas = streaming_};
        Submission submission;
        try {
            submission = co_await sink_.submit(std::move(inbound), options);
        } catch (const std::exception& error) {
            // The gateway has no acknowledgement to make Discord send it again.
            if (live) live_->drop(live);
            log_.error("discord", "'", id_, "': a message could not be stored: ", error.what());
            co_return;
        }
        if (!live) co_return;
        if (submission.status == Submission::Status::accepted && submission.watch.valid()) {
            live_->follow(std::move(live), std::move(submission.watch));
        } else {
            live_->drop(live);
        }
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    std::string token_;
    std::int64_t intents_ = kDefaultIntents;
    std::string prefix_;
    bool streaming_ = true;
    bool follow_replies_ = true;
    KeyedOrder ordered_;
    std::optional<DiscordApi> api_;
    std::optional<LiveReplies> live_;
    std::optional<Gateway> gateway_;
    std::mutex streamed_mutex_;
    StringMap<std::string> streamed_;  // previews whose final edit is being retried
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<DiscordAdapter>(std::move(deps));
}

}  // namespace bot::adapters::discord
