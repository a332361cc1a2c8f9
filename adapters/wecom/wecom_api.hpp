// The WeCom server API this adapter calls: the app's access_token (/cgi-bin/gettoken) and app
// messages (/cgi-bin/message/send), with WeCom's errcodes mapped to SendError in one place and
// its per-member rate limit kept on our side. URLs carry the secret or the access_token:
// neither they nor the tokens are ever logged.
#pragma once

#include "bot/adapter.hpp"
#include "base/access_token.hpp"

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bot::adapters::wecom {

class WecomApi {
public:
    WecomApi(HttpClient& http, std::string api_base, std::string corp_id, std::string secret,
             long long agent_id, Logger& log);

    // One text message from the app to a member; the platform's msgid on success. A refused
    // token is refetched and the call retried once.
    net::awaitable<SendResult> send_text(const std::string& user_id, const std::string& text);

    AccessToken& token() { return token_; }

private:
    net::awaitable<TokenResult> fetch_token(bool force);

    HttpClient& http_;
    std::string api_base_;
    std::string corp_id_;
    std::string secret_;
    long long agent_id_;
    Logger& log_;
    std::string logged_token_;  // the access_token the log redacts now
    AccessToken token_;
};

// How message/send's answer maps to the outbox's SendError; nullopt: delivered. errcode 0 with
// a non-empty invaliduser means nobody received it. Token errors reaching this point (after
// the retry) are transient.
std::optional<SendError> send_error_for(long errcode, std::string_view errmsg,
                                        std::string_view invalid_user);

// WeCom accepts at most 30 app messages per member per minute. send() asks for a slot and
// waits until it comes instead of failing; concurrent sends to one member queue in order.
// Thread-safe; the clock is passed in so tests need not wait.
class UserRateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    UserRateLimiter(std::size_t per_window, Clock::duration window);

    // When the next message to user may go (now, or later when its window is full). The
    // slot is taken: call once per message.
    Clock::time_point reserve(const std::string& user, Clock::time_point now);
    std::size_t tracked_users() const;

private:
    void forget_idle(Clock::time_point now);

    std::size_t per_window_;
    Clock::duration window_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::deque<Clock::time_point>> slots_;
    std::size_t sweep_at_;
};

}  // namespace bot::adapters::wecom
