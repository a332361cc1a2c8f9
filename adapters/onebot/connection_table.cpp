#include "onebot/connection_table.hpp"

namespace bot::adapters::onebot {

void ConnectionTable::attach(std::int64_t self_id, std::shared_ptr<Link> link) {
    std::shared_ptr<Link> previous;
    std::vector<std::shared_ptr<AsyncEvent>> waiters;
    {
        std::lock_guard lock(mutex_);
        auto& slot = links_[self_id];
        previous = std::exchange(slot, std::move(link));
        if (previous) fail_pending(previous.get());
        auto [first, last] = connect_waiters_.equal_range(self_id);
        for (auto it = first; it != last; ++it) waiters.push_back(it->second);
        connect_waiters_.erase(first, last);
    }
    // Outside the lock: close() may complete a read inline.
    if (previous) previous->close("replaced by a new connection of the same account");
    for (auto& waiter : waiters) waiter->set();
}

void ConnectionTable::detach(std::int64_t self_id, const std::shared_ptr<Link>& link) {
    std::lock_guard lock(mutex_);
    fail_pending(link.get());
    if (auto it = links_.find(self_id); it != links_.end() && it->second == link) links_.erase(it);
}

std::shared_ptr<Link> ConnectionTable::link_for(std::int64_t self_id) const {
    std::lock_guard lock(mutex_);
    auto it = links_.find(self_id);
    return it == links_.end() ? nullptr : it->second;
}

void ConnectionTable::fail_pending(const Link* link) {
    for (auto& [echo, pending] : pending_) {
        if (pending->link == link) pending->done.set();  // no answer: failed
    }
}

net::awaitable<SendResult> ConnectionTable::call(
    std::int64_t self_id, const std::function<std::string(std::string_view echo)>& build,
    std::chrono::milliseconds timeout, std::chrono::milliseconds connect_wait) {
    using Clock = std::chrono::steady_clock;
    const std::string account = std::to_string(self_id);
    auto link = link_for(self_id);
    if (!link && connect_wait.count() > 0) {
        // (Reverse-mode implementations reconnect every few seconds: waiting here delivers a
        // reply as soon as its account is back, not at the outbox's next retry.)
        auto connected = std::make_shared<AsyncEvent>(executor_);
        {
            std::lock_guard lock(mutex_);
            if (closing_ || links_.contains(self_id)) {
                connected->set();
            } else {
                connect_waiters_.emplace(self_id, connected);
            }
        }
        co_await connected->wait_until(Clock::now() + connect_wait);
        {
            std::lock_guard lock(mutex_);
            std::erase_if(connect_waiters_,
                          [&](const auto& entry) { return entry.second == connected; });
        }
        link = link_for(self_id);
    }
    if (!link) {
        co_return SendError{.kind = SendError::Kind::transient,
                            .detail = "QQ account " + account + " is not connected"};
    }

    auto pending = std::make_shared<Pending>(executor_);
    pending->link = link.get();
    std::string echo;
    bool closing = false;
    {
        std::lock_guard lock(mutex_);
        closing = closing_;
        echo = "cb" + std::to_string(++next_echo_);
        if (!closing) pending_.emplace(echo, pending);
    }
    bool sent = !closing && link->send(build(echo));
    bool woken = sent && co_await pending->done.wait_until(Clock::now() + timeout);
    std::optional<ActionAnswer> answer;
    {
        std::lock_guard lock(mutex_);
        pending_.erase(echo);
        answer = std::move(pending->answer);
    }
    if (answer) co_return to_send_result(*answer, self_id);
    std::string why = !sent   ? " closed before the action was sent"
                      : woken ? " closed before the answer"
                              : ": no answer within " + std::to_string(timeout.count()) + " ms";
    co_return SendError{.kind = SendError::Kind::transient,
                        .detail = "the connection of QQ account " + account + why};
}

bool ConnectionTable::answer(const Link& link, ActionAnswer answer) {
    std::shared_ptr<Pending> pending;
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(answer.echo);
        if (it == pending_.end() || it->second->link != &link || it->second->done.is_set())
            return false;
        pending = it->second;
        pending->answer = std::move(answer);
    }
    pending->done.set();
    return true;
}

void ConnectionTable::close_all(const std::string& reason) {
    std::map<std::int64_t, std::shared_ptr<Link>> links;
    std::vector<std::shared_ptr<Pending>> pending;
    std::vector<std::shared_ptr<AsyncEvent>> waiters;
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
        links = links_;
        for (auto& [echo, action] : pending_) pending.push_back(action);
        for (auto& [self_id, waiter] : connect_waiters_) waiters.push_back(waiter);
    }
    // Outside the lock: set() and close() may resume a waiter inline.
    for (auto& action : pending) action->done.set();
    for (auto& waiter : waiters) waiter->set();
    for (auto& [self_id, link] : links) link->close(reason);
}

}  // namespace bot::adapters::onebot
