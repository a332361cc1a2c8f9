// whatsapp: a phone number on the WhatsApp Business Cloud API. Meta verifies the webhook with a
// GET (hub.verify_token) and then POSTs every event, signed with the app secret
// (X-Hub-Signature-256); text messages are answered through POST /{phone_number_id}/messages,
// the user's message marked read (with the typing indicator) while the LLM works. Free-form
// replies are allowed only within 24 h of the user's last message: a later one is recorded
// failed without calling the API. Config, console steps: adapters/whatsapp/README.md.
#include "base/log.hpp"
#include "base/rate_limit.hpp"
#include "bot/adapter.hpp"
#include "whatsapp/whatsapp_codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace bot::adapters::whatsapp {

namespace {

using SystemClock = std::chrono::system_clock;

// A text message's body holds at most 4,096 characters: the figure, confirmed only
// by second-hand copies of Meta's error list (BAD_REQUEST "Message length exceeds 4,096
// characters", help.salesforce.com mc_jb_whatsapp_errors), not on a Meta page.
constexpr std::size_t kMaxText = 4096;
constexpr std::size_t kBodyLimit = 1 << 20;  // the Nodejs-SDK drops bodies above 1 MB
constexpr std::size_t kMaxUsers = 200'000;   // last-message times kept in memory
constexpr double kReadPerSecond = 10;
constexpr auto kApiTimeout = std::chrono::milliseconds(15000);

class WhatsAppAdapter final : public Adapter {
public:
    explicit WhatsAppAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          http_(deps.http),
          log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "whatsapp");
        phone_number_id_ = config.required_string("phone_number_id");
        if (!phone_number_id_.empty() &&
            !std::all_of(phone_number_id_.begin(), phone_number_id_.end(),
                         [](char c) { return c >= '0' && c <= '9'; }))
            config.problem("phone_number_id",
                           "must be the Phone number ID (digits, WhatsApp > API Setup), not the "
                           "phone number");
        access_token_ = config.required_string("access_token");
        app_secret_ = config.required_string("app_secret");
        verify_token_ = config.required_string("verify_token");
        std::string path = config.url_path("path", "/whatsapp/" + id_);
        api_base_ = config.url("api_base", "https://graph.facebook.com/v21.0");
        typing_ = config.boolean("typing_indicator", true);
        config.done();
        if (!config.errors().empty()) return;

        deps.routes.add("GET", path, [this](http::Request& request, http::ResponseStream&) {
            return on_verify(request);
        });
        http::RouteOptions options;
        options.body_limit = kBodyLimit;
        // Unsigned requests are refused before their body is read.
        options.authorize = [this](const http::Request& request) -> std::optional<http::Response> {
            if (!request.header("X-Hub-Signature-256").empty()) return std::nullopt;
            return refused(request, "unsigned request");
        };
        deps.routes.add(
            "POST", path,
            [this](http::Request& request, http::ResponseStream&) { return on_post(request); },
            options);
        if (deps.validate_only) return;
        log_.add_secret(access_token_);
        log_.add_secret(app_secret_);
        log_.add_secret(verify_token_);
    }

    Capabilities capabilities() const override {
        return {.max_text = {.max = kMaxText, .unit = TextLimit::Unit::code_points},
                .text_format = TextFormat::plain};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        using Kind = SendError::Kind;
        const std::string& to = message.chat.chat_id;
        if (to.empty()) co_return SendError{.kind = Kind::bad_request, .detail = "no recipient"};
        // Known to be late: recorded failed without a call the API would refuse (131047).
        // Unknown (a reply to a message from before a restart): the API decides.
        if (auto last = last_message(to); last && SystemClock::now() - *last > kServiceWindow) {
            log_.warn("whatsapp", "'", id_, "': a reply to ", to,
                      " came more than 24 h after their last message; not sent");
            co_return SendError{.kind = Kind::bad_request,
                                .detail = "outside the 24-hour customer service window"};
        }
        auto answer = co_await call(text_body(to, message.text));
        if (answer.ok) co_return answer.message_id;
        if (answer.outside_window)
            log_.warn("whatsapp", "'", id_, "': ", to,
                      " wrote last more than 24 h ago; WhatsApp refused the reply (131047)");
        if (!answer.operator_fix.empty())
            log_.error("whatsapp", "'", id_, "': ", answer.failure.detail, ": ",
                       answer.operator_fix);
        co_return answer.failure;
    }

private:
    http::Response refused(const http::Request& request, const char* why) const {
        log_.warn("whatsapp", "'", id_, "': ", why, " from ", request.remote, " refused (401)");
        return http::Response::error(401, "invalid signature");
    }

    net::awaitable<http::Response> on_verify(http::Request& request) {
        auto mode = request.query_param("hub.mode").value_or("");
        auto token = request.query_param("hub.verify_token").value_or("");
        auto challenge = request.query_param("hub.challenge").value_or("");
        if (!subscription_valid(mode, token, verify_token_) || challenge.size() > 256) {
            log_.warn("whatsapp", "'", id_, "': webhook verification from ", request.remote,
                      " refused (403): wrong hub.verify_token or mode");
            co_return http::Response::error(403, "verification failed");
        }
        log_.info("whatsapp", "'", id_, "': webhook verified");
        co_return http::Response::text(200, challenge);
    }

    net::awaitable<http::Response> on_post(http::Request& request) {
        // On the raw body, before anything is parsed.
        if (!signature_valid(app_secret_, request.header("X-Hub-Signature-256"), request.body))
            co_return refused(request, "request with a wrong signature");
        auto body = parse_webhook(request.body, phone_number_id_, id_);
        if (!body.readable) {
            log_.warn("whatsapp", "'", id_, "': skipped a signed request that is not a webhook");
            co_return http::Response::text(200, "");
        }
        if (body.foreign > 0)
            log_.debug("whatsapp", "'", id_, "': ignored ", body.foreign,
                       " change(s) for another phone number");
        for (auto& message : body.messages) {
            if (message.kind != WaMessage::Kind::message) {
                if (message.kind == WaMessage::Kind::unreadable)
                    log_.warn("whatsapp", "'", id_, "': skipped message ", message.id, " (",
                              message.reason, ")");
                else
                    log_.info("whatsapp", "'", id_, "': skipped message ", message.id, " (",
                              message.reason, ")");
                continue;
            }
            try {
                co_await accept(std::move(message));
            } catch (const std::exception& error) {
                // Not acknowledged: WhatsApp retries a webhook that was not answered 200.
                log_.error("whatsapp", "'", id_, "': could not store a message: ", error.what());
                co_return http::Response::error(500, "not stored");
            }
        }
        co_return http::Response::text(200, "");
    }

    net::awaitable<void> accept(WaMessage message) {
        const std::string from = message.inbound.chat.chat_id;
        const auto at = message.inbound.at;
        const bool readable = message.inbound.unsupported.empty();
        // Before the submit: once stored, the outbox may send the reply at once, and send()
        // must see this message's time, not an older one that is outside the window.
        saw_message(from, at);
        auto submission = co_await sink_.submit(std::move(message.inbound), SubmitOptions{});
        if (submission.status != Submission::Status::accepted) co_return;
        if (read_budget_.try_take()) mark_read(message.id, typing_ && readable);
    }

    // Fire and forget: a failure costs only the blue ticks and the indicator.
    void mark_read(std::string message_id, bool typing) {
        net::co_spawn(
            executor_,
            [this, message_id = std::move(message_id), typing]() -> net::awaitable<void> {
                auto answer = co_await call(read_body(message_id, typing));
                if (!answer.ok)
                    log_.debug("whatsapp", "'", id_, "': mark read: ", answer.failure.detail);
            },
            net::detached);
    }

    void saw_message(const std::string& user, SystemClock::time_point at) {
        std::lock_guard lock(mutex_);
        auto now = SystemClock::now();
        at = std::min(at, now);
        if (last_message_.size() >= kMaxUsers && !last_message_.contains(user))
            std::erase_if(last_message_,
                          [&](const auto& entry) { return now - entry.second > kServiceWindow; });
        if (last_message_.size() >= kMaxUsers && !last_message_.contains(user)) return;
        auto& last = last_message_[user];
        last = std::max(last, at);
    }

    std::optional<SystemClock::time_point> last_message(const std::string& user) {
        std::lock_guard lock(mutex_);
        auto found = last_message_.find(user);
        if (found == last_message_.end()) return std::nullopt;
        return found->second;
    }

    net::awaitable<ApiAnswer> call(std::string body) {
        ClientRequest request;
        request.method = "POST";
        request.url = api_base_ + "/" + phone_number_id_ + "/messages";
        request.headers = {{"Content-Type", "application/json"},
                           {"Authorization", "Bearer " + access_token_}};
        request.body = std::move(body);
        request.timeout = kApiTimeout;
        auto response = co_await http_.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none)
            co_return classify(0, {}, {}, response.error);
        co_return classify(response.status, response.body, response.header("Retry-After"));
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    HttpClient& http_;
    Logger& log_;
    std::string phone_number_id_;
    std::string access_token_;
    std::string app_secret_;
    std::string verify_token_;
    std::string api_base_;
    bool typing_ = true;
    CallBudget read_budget_{kReadPerSecond};
    std::mutex mutex_;
    std::unordered_map<std::string, SystemClock::time_point> last_message_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<WhatsAppAdapter>(std::move(deps));
}

}  // namespace bot::adapters::whatsapp
