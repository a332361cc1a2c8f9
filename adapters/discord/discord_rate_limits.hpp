// Discord's REST rate limits in one place (topics/rate-limits.mdx): per-route buckets learned
// from X-RateLimit-Bucket / -Remaining / -Reset-After, and 429s with retry_after, per route or
// global. Callers ask how long a route must wait before a request and report every answer; the
// adapter then never spends a request it knows will be refused (401/403/429 count toward the
// 10,000-per-10-minutes ban, rate-limits.mdx lines 130-138). Thread-safe; no I/O.
#pragma once

#include "discord/discord_codec.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bot::adapters::discord {

// A route as the limits see it: the method and path with ids other than the top-level
// resource's replaced ("PATCH /channels/{id}/messages/{id}") plus that resource ("123"),
// since buckets count per top-level resource (rate-limits.mdx lines 14-16).
struct Route {
    std::string key;    // method + template
    std::string major;  // the channel id
};

class RateLimits {
public:
    using Clock = std::chrono::steady_clock;

    explicit RateLimits(std::size_t max_buckets = 10'000) : max_buckets_(max_buckets) {}

    // How long a request on route must wait (zero: go now).
    Clock::duration wait(const Route& route, Clock::time_point now);
    // Takes note of an answer on route (any status).
    void update(const Route& route, const RateInfo& info, int status, Clock::time_point now);

private:
    struct Bucket {
        int remaining = 1;
        Clock::time_point reset{};  // remaining counts until then
    };
    Bucket* find(const Route& route);
    void trim(Clock::time_point now);

    std::mutex mutex_;
    std::size_t max_buckets_;
    Clock::time_point global_until_{};
    std::unordered_map<std::string, std::string> bucket_of_;  // route key -> bucket hash
    std::unordered_map<std::string, Bucket> buckets_;         // hash + major -> state
};

}  // namespace bot::adapters::discord
