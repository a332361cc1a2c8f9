// An adapter whose send() results are scripted and whose sends are recorded: for testing the
// outbox (splitting, retries, permanent failures, redelivery after a restart).
#pragma once

#include "bot/adapter.hpp"

#include <deque>
#include <mutex>
#include <vector>

namespace bot::testing {

class FakeAdapter final : public Adapter {
public:
    explicit FakeAdapter(std::size_t max_text_bytes = 0) : max_text_bytes_(max_text_bytes) {}

    Capabilities capabilities() const override { return {.max_text = {.max = max_text_bytes_}}; }

    net::awaitable<SendResult> send(Outbound message) override {
        std::optional<SendError> failure;
        {
            std::lock_guard lock(mutex_);
            attempts_.push_back(message);
            if (!failures_.empty()) {
                failure = failures_.front();
                failures_.pop_front();
            } else {
                sent_.push_back(message);
            }
        }
        if (failure) co_return *failure;
        co_return std::string("platform-id");
    }

    void fail_next(SendError error) {
        std::lock_guard lock(mutex_);
        failures_.push_back(std::move(error));
    }
    std::vector<Outbound> sent() const {
        std::lock_guard lock(mutex_);
        return sent_;
    }
    std::size_t attempts() const {
        std::lock_guard lock(mutex_);
        return attempts_.size();
    }

private:
    std::size_t max_text_bytes_;
    mutable std::mutex mutex_;
    std::deque<SendError> failures_;
    std::vector<Outbound> sent_;
    std::vector<Outbound> attempts_;
};

}  // namespace bot::testing
