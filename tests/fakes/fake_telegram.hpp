// A Telegram Bot API server for tests, running in-process on loopback on its own thread.
// Requests go to {api_base}/bot<token>/<method> (POST with a JSON or form body, or GET with a
// query string); answers are {"ok":true,"result":...} or {"ok":false,"error_code":N,
// "description":"..."} with the same HTTP status, as the real API does. It records every call
// that carries the right token, long-polls getUpdates, remembers the webhook, and answers
// sendMessage with increasing message ids; failures (429 with retry_after) can be scripted.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bot::testing {

class FakeTelegram {
public:
    struct Call {
        std::string method;
        nlohmann::json params;  // the JSON body, or the form/query parameters as strings
        int failed_with = 0;    // the status of a scripted or random failure that answered it
    };

    explicit FakeTelegram(std::string token = "123456:TEST-token-abc",
                          std::string username = "contact_test_bot", std::int64_t bot_id = 123456);
    ~FakeTelegram();
    FakeTelegram(const FakeTelegram&) = delete;
    FakeTelegram& operator=(const FakeTelegram&) = delete;

    std::string api_base() const;  // "http://127.0.0.1:<port>"
    std::string token() const;
    std::string username() const;

    // Recorded calls, in order; an empty method means all of them.
    std::vector<Call> calls(const std::string& method = {}) const;
    // Calls of method so far (counted even while recording is off).
    std::size_t count(const std::string& method) const;
    // Blocks until at least n calls of method were seen (true) or timeout passed (false).
    bool wait_for(const std::string& method, std::size_t n,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    // The next call(s) of method get this error instead of the default answer (FIFO per
    // method). A 429 with retry_after_s > 0 also carries Retry-After and
    // parameters.retry_after.
    void script(const std::string& method, int status, std::string description,
                int retry_after_s = 0);

    // Queues an update for getUpdates; an update_id is assigned (increasing) when absent.
    // Wakes a waiting long poll. Returns the update_id.
    std::int64_t push_update(nlohmann::json update);
    std::size_t pending_updates() const;  // queued and not yet confirmed by an offset

    // From the last setWebhook; empty after deleteWebhook.
    std::string webhook_url() const;
    std::string webhook_secret() const;

    // Called on the fake's thread for every call (recorded or not), after it was counted; keep it
    // short.
    void on_call(std::function<void(const Call&)> observer);
    // false: stop storing calls (counts and the observer go on), so memory stays flat in benches.
    void record(bool on);
    // Fails this fraction of calls (0..1) at random, before they take effect (a failed
    // sendMessage delivers nothing): half 500, half 429 with retry_after 1. Chaos benches.
    void fail_randomly(double fraction, std::uint32_t seed = 1);
    std::size_t failures_injected() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Length of UTF-8 text in UTF-16 code units, as Telegram counts message limits.
std::size_t utf16_length(std::string_view utf8);

}  // namespace bot::testing
