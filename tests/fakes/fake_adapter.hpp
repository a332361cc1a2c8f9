// An adapter whose send() results are scripted and whose sends are recorded: for testing the
// outbox (splitting, part caps, whole-reply sends, retries, permanent failures, redelivery
// after a restart) and the sent ids the core keeps.
#pragma once

#include "bot/adapter.hpp"

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bot::testing {

class FakeAdapter final : public Adapter {
public:
    explicit FakeAdapter(std::size_t max_text_bytes = 0)
        : capabilities_{.max_text = {.max = max_text_bytes}} {}
    explicit FakeAdapter(Capabilities capabilities) : capabilities_(capabilities) {}

    Capabilities capabilities() const override { return capabilities_; }

    // Each successful send returns the id "sent-<n>" (n counts successful sends from 1).
    net::awaitable<SendResult> send(Outbound message) override {
        std::lock_guard lock(mutex_);
        co_return attempt({message});
    }

    // One attempt for the whole batch (recorded in batches()).
    net::awaitable<SendResult> send_all(std::vector<Outbound> parts) override {
        std::lock_guard lock(mutex_);
        co_return attempt(std::move(parts));
    }

    // Scripts the next attempts, in order: a failure, or (succeed_next) a success before
    // the failures queued after it.
    void fail_next(SendError error) {
        std::lock_guard lock(mutex_);
        script_.push_back(std::move(error));
    }
    void succeed_next() {
        std::lock_guard lock(mutex_);
        script_.push_back(std::nullopt);
    }
    std::vector<Outbound> sent() const {
        std::lock_guard lock(mutex_);
        return sent_;
    }
    // Every part handed over, failed attempts included.
    std::vector<Outbound> attempted() const {
        std::lock_guard lock(mutex_);
        return attempts_;
    }
    std::size_t attempts() const {  // calls of send() or send_all()
        std::lock_guard lock(mutex_);
        return calls_;
    }
    // The parts of each send_all() call, failed ones included.
    std::vector<std::vector<Outbound>> batches() const {
        std::lock_guard lock(mutex_);
        return batches_;
    }

private:
    SendResult attempt(std::vector<Outbound> parts) {
        ++calls_;
        if (parts.size() != 1 || capabilities_.sends_whole_reply) batches_.push_back(parts);
        attempts_.insert(attempts_.end(), parts.begin(), parts.end());
        if (!script_.empty()) {
            std::optional<SendError> failure = std::move(script_.front());
            script_.pop_front();
            if (failure) return *failure;
        }
        sent_.insert(sent_.end(), parts.begin(), parts.end());
        return "sent-" + std::to_string(++ids_);
    }

    Capabilities capabilities_;
    mutable std::mutex mutex_;
    std::deque<std::optional<SendError>> script_;
    std::vector<Outbound> sent_;
    std::vector<Outbound> attempts_;
    std::vector<std::vector<Outbound>> batches_;
    std::size_t calls_ = 0;
    int ids_ = 0;
};

}  // namespace bot::testing
