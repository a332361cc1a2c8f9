#include "discord/discord_rate_limits.hpp"

#include <algorithm>

namespace bot::adapters::discord {

namespace {

std::chrono::steady_clock::duration seconds_of(double seconds) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(std::clamp(seconds, 0.0, 3600.0)));
}

// Before a bucket hash is known, the route key stands for it.
std::string state_key(const std::string& hash, const Route& route) {
    return hash + '\n' + route.major;
}

}  // namespace

RateLimits::Bucket* RateLimits::find(const Route& route) {
    auto hash = bucket_of_.find(route.key);
    auto it = buckets_.find(state_key(hash == bucket_of_.end() ? route.key : hash->second, route));
    return it == buckets_.end() ? nullptr : &it->second;
}

RateLimits::Clock::duration RateLimits::wait(const Route& route, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    Clock::duration longest = std::max(Clock::duration::zero(), global_until_ - now);
    if (const Bucket* bucket = find(route); bucket && bucket->remaining <= 0 && bucket->reset > now)
        longest = std::max(longest, bucket->reset - now);
    return longest;
}

void RateLimits::update(const Route& route, const RateInfo& info, int status,
                        Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (status == 429 && info.global) {
        global_until_ = std::max(global_until_, now + seconds_of(info.retry_after_s.value_or(1)));
        return;
    }
    std::string hash = route.key;
    if (!info.bucket.empty()) {
        hash = info.bucket;
        if (bucket_of_.size() < max_buckets_ || bucket_of_.contains(route.key))
            bucket_of_[route.key] = info.bucket;
    }
    const bool limited = status == 429;
    if (!limited && !info.remaining && !info.reset_after_s) return;
    if (buckets_.size() >= max_buckets_) trim(now);
    if (buckets_.size() >= max_buckets_) return;  // every bucket still counting: forget this one
    Bucket& bucket = buckets_[state_key(hash, route)];
    if (limited) {
        // A 429 on a shared resource limit (scope "shared") holds the route as well.
        bucket.remaining = 0;
        double seconds = info.retry_after_s.value_or(info.reset_after_s.value_or(1));
        bucket.reset = std::max(bucket.reset, now + seconds_of(seconds));
        return;
    }
    if (info.remaining) bucket.remaining = *info.remaining;
    if (info.reset_after_s) bucket.reset = now + seconds_of(*info.reset_after_s);
}

void RateLimits::trim(Clock::time_point now) {
    std::erase_if(buckets_, [now](const auto& entry) { return entry.second.reset <= now; });
}

}  // namespace bot::adapters::discord
