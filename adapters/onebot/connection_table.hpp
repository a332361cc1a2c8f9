// The sockets of the QQ accounts (self ids) one onebot adapter serves, and the actions waiting
// for their answers. Each account is answered on its own socket; a reconnecting account
// replaces its old one; an action is matched to its answer by echo, with a timeout.
#pragma once

#include "bot/adapter.hpp"
#include "onebot/onebot_codec.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bot::adapters::onebot {

// One socket to a OneBot implementation, whichever side dialled.
class Link {
public:
    virtual ~Link() = default;
    // The next text message; nullopt once closed.
    virtual net::awaitable<std::optional<std::string>> read() = 0;
    // Queues a message; false when the socket is closed.
    virtual bool send(std::string text) = 0;
    virtual void close(std::string reason) = 0;
};

class ConnectionTable {
public:
    explicit ConnectionTable(net::any_io_executor executor) : executor_(std::move(executor)) {}

    // link now carries the actions of account self_id (a Universal or API connection). The
    // account's previous link is closed, and the actions waiting on it fail (retried later).
    void attach(std::int64_t self_id, std::shared_ptr<Link> link);
    // link has closed: its waiting actions fail, and it no longer stands for the account.
    void detach(std::int64_t self_id, const std::shared_ptr<Link>& link);

    // Sends the action build(echo) makes on the account's link and waits up to timeout for
    // its answer. With no link for the account it first waits up to connect_wait for one.
    // Transient failures: no link, the link closing, no answer in time.
    net::awaitable<SendResult> call(std::int64_t self_id,
                                    const std::function<std::string(std::string_view echo)>& build,
                                    std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds connect_wait);
    // An answer read from link: wakes the action with its echo sent on that link (false: none
    // waits there; echoes are a guessable sequence, so one account cannot answer another's).
    bool answer(const Link& link, ActionAnswer answer);
    // Shutdown: closes every link and wakes every waiting action and connect wait (they fail
    // as transient); later calls fail at once. Nothing stays suspended on an event of ours
    // when the io_context stops.
    void close_all(const std::string& reason);

private:
    struct Pending {
        explicit Pending(net::any_io_executor executor) : done(std::move(executor)) {}
        AsyncEvent done;
        Link* link = nullptr;
        std::optional<ActionAnswer> answer;  // empty when woken by the link closing
    };

    std::shared_ptr<Link> link_for(std::int64_t self_id) const;
    // Wakes the actions waiting on link, as failed. Called with mutex_ held.
    void fail_pending(const Link* link);

    net::any_io_executor executor_;
    mutable std::mutex mutex_;
    std::map<std::int64_t, std::shared_ptr<Link>> links_;
    std::map<std::string, std::shared_ptr<Pending>, std::less<>> pending_;
    std::multimap<std::int64_t, std::shared_ptr<AsyncEvent>> connect_waiters_;
    std::uint64_t next_echo_ = 0;
    bool closing_ = false;
};

}  // namespace bot::adapters::onebot
