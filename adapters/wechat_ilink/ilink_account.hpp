// One bound iLink account: its getupdates long poll (cursor persisted, Tencent's failure policy,
// -14 ends it), the latest reply context per user, sending within the 24 h window and the
// 10-sends-per-message budget, and the typing indicator. Thousands of these share the adapter's
// threads: each is one coroutine and, while polling, one open HTTP request.
#pragma once

#include "bot/adapter.hpp"
#include "wechat_ilink/ilink_accounts.hpp"
#include "wechat_ilink/ilink_api.hpp"
#include "wechat_ilink/ilink_codec.hpp"
#include "wechat_ilink/ilink_settings.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace bot::adapters::wechat_ilink {

struct AccountServices {
    std::string adapter_id;
    net::any_io_executor executor;
    IlinkApi& api;
    InboundSink& sink;
    AdapterState& state;
    Logger& log;
    const Settings& settings;
    // The session ended (-14) or was replaced: the adapter records the new status.
    std::function<net::awaitable<void>(BoundAccount)> on_ended;
};

class AccountSession : public std::enable_shared_from_this<AccountSession> {
public:
    AccountSession(AccountServices& services, BoundAccount account, std::string cursor);

    // Polls until stop() or until the session expires. Run it detached on services.executor.
    net::awaitable<void> poll();
    void stop();
    bool stopped() const;
    // Tells iLink this client stops serving the account (§3.4); failures are only logged.
    net::awaitable<void> notify_stop();

    BoundAccount account() const;
    // A newer record of this account (a new token after binding again).
    void update(BoundAccount account);
    void restore_context(const std::string& user, ReplyContext context);

    // One part of a reply to user, split at the text limit into at most the remaining sends;
    // a reply that does not fit is cut and marked (more_parts: later parts exist).
    // delivery_key: the outbox's key of this part (Outbound::delivery_key), the same on every
    // retry; reply_to only names the reply in logs.
    net::awaitable<SendResult> send(std::string user, std::string reply_to,
                                    std::string delivery_key, bool more_parts, std::string text);

private:
    struct UserState {
        ReplyContext context;
        int sends = 0;  // sendmessage calls on this context token
        std::string typing_ticket;
        std::int64_t ticket_due_ms = 0;    // refetch the ticket after this
        std::int64_t ticket_retry_ms = 0;  // backoff after a failed getconfig
    };
    // Chunks of one reply part already accepted by iLink, so a retried part never repeats them.
    struct PartProgress {
        std::size_t chunks_sent = 0;
        std::string last_message_id;
    };

    // Makes context the user's current one (fresh send budget) unless it is older or the same.
    bool adopt_context(const std::string& user, const ReplyContext& context);
    net::awaitable<bool> handle(Updates updates);
    net::awaitable<void> typing(std::shared_ptr<AccountSession> self, std::string user,
                                ReplyWatch watch);
    net::awaitable<std::string> typing_ticket(const std::string& user);
    net::awaitable<ApiResult> call(std::string endpoint, json body,
                                   std::chrono::milliseconds timeout);
    net::awaitable<void> end_session(BoundAccount::Status status, std::string detail);
    net::awaitable<void> pause(std::chrono::milliseconds duration);

    AccountServices& services_;
    AsyncEvent stop_;
    const std::uint32_t pool_;
    mutable std::mutex mutex_;
    BoundAccount account_;
    std::string cursor_;
    std::chrono::milliseconds poll_timeout_{35000};
    std::map<std::string, UserState, std::less<>> users_;
    std::map<std::string, PartProgress, std::less<>> progress_;
};

}  // namespace bot::adapters::wechat_ilink
