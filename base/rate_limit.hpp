// Limits per client for public routes (the web chat, the binding page): token buckets kept in a
// map an attacker cannot grow without bound, and the network a client address belongs to
// (whoever owns one address usually owns its neighbours too).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bot {

// The network of a client address, for limits per client: the address with only its first
// v4_prefix (IPv4, also IPv4-mapped IPv6) or v6_prefix (IPv6) bits kept, as "192.0.2.0/24" or
// "2001:db8::/64". Text that is not an address is returned unchanged.
std::string client_network(std::string_view address, int v4_prefix, int v6_prefix);

// Token buckets (bursts of `burst`, refilled at per_minute) for any number of keys, holding at
// most `capacity` of them: a bucket that has refilled to its burst is forgotten (a new one is
// the same), and when the map is full the longest idle one gives way (it is the fullest;
// whoever can fill the map with fresh keys holds that many clients anyway). Not thread-safe.
class TokenBuckets {
public:
    using Clock = std::chrono::steady_clock;

    TokenBuckets(double per_minute, double burst, std::size_t capacity);

    // Whether key's bucket holds a whole token at `now` (takes nothing).
    bool ready(const std::string& key, Clock::time_point now);
    // Takes a token from key's bucket (down to empty, never below).
    void take(const std::string& key, Clock::time_point now);
    bool try_take(const std::string& key, Clock::time_point now) {
        if (!ready(key, now)) return false;
        take(key, now);
        return true;
    }
    std::size_t size() const { return index_.size(); }

private:
    struct Bucket {
        std::string key;
        double tokens;
        Clock::time_point touched;
    };
    using Buckets = std::list<Bucket>;

    double tokens_at(const Bucket& bucket, Clock::time_point now) const;
    void forget_full(Clock::time_point now);

    double per_second_;
    double burst_;
    std::size_t capacity_;
    Clock::duration refill_;  // from empty to full: an older bucket is full
    Buckets by_touch_;        // least recently touched first
    std::unordered_map<std::string, Buckets::iterator> index_;
};

// One budget of calls per second with a burst of one second's worth (at least one call), for
// cosmetic calls an adapter skips rather than queues when over it (typing indicators, streamed
// previews: telegram_live, discord_live). Thread-safe; try_take() never waits.
class CallBudget {
public:
    using Clock = std::chrono::steady_clock;
    explicit CallBudget(double per_second);
    bool try_take(Clock::time_point now = Clock::now());

private:
    std::mutex mutex_;
    double per_second_;
    double tokens_;
    Clock::time_point last_;
};

}  // namespace bot
