#include "base/rate_limit.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cmath>

namespace bot {

namespace ip = boost::asio::ip;

std::string client_network(std::string_view address, int v4_prefix, int v6_prefix) {
    boost::system::error_code ec;
    auto parsed = ip::make_address(std::string(address), ec);
    if (ec) return std::string(address);
    if (parsed.is_v6() && parsed.to_v6().is_v4_mapped())
        parsed = ip::make_address_v4(ip::v4_mapped, parsed.to_v6());
    if (parsed.is_v4()) {
        int bits = std::clamp(v4_prefix, 0, 32);
        auto mask = bits == 0 ? 0u : ~0u << (32 - bits);
        auto masked = ip::make_address_v4(parsed.to_v4().to_uint() & mask);
        return masked.to_string() + "/" + std::to_string(bits);
    }
    int bits = std::clamp(v6_prefix, 0, 128);
    auto bytes = parsed.to_v6().to_bytes();
    for (int i = 0; i < 16; ++i) {
        int keep = std::clamp(bits - 8 * i, 0, 8);
        bytes[i] &= static_cast<unsigned char>(0xff00u >> keep);
    }
    return ip::make_address_v6(bytes).to_string() + "/" + std::to_string(bits);
}

TokenBuckets::TokenBuckets(double per_minute, double burst, std::size_t capacity)
    : per_second_(per_minute / 60.0),
      burst_(std::max(burst, 1.0)),
      capacity_(std::max<std::size_t>(capacity, 1)),
      refill_(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(std::ceil(burst_ / per_second_)))) {}

double TokenBuckets::tokens_at(const Bucket& bucket, Clock::time_point now) const {
    double elapsed = std::chrono::duration<double>(now - bucket.touched).count();
    return std::min(burst_, bucket.tokens + per_second_ * std::max(elapsed, 0.0));
}

// The list is in order of last touch, so every full bucket is at its front.
void TokenBuckets::forget_full(Clock::time_point now) {
    while (!by_touch_.empty() && now - by_touch_.front().touched >= refill_) {
        index_.erase(by_touch_.front().key);
        by_touch_.pop_front();
    }
}

bool TokenBuckets::ready(const std::string& key, Clock::time_point now) {
    forget_full(now);
    auto found = index_.find(key);
    return found == index_.end() || tokens_at(*found->second, now) >= 1.0;
}

void TokenBuckets::take(const std::string& key, Clock::time_point now) {
    forget_full(now);
    if (auto found = index_.find(key); found != index_.end()) {
        auto bucket = found->second;
        bucket->tokens = std::max(0.0, tokens_at(*bucket, now) - 1.0);
        bucket->touched = now;
        by_touch_.splice(by_touch_.end(), by_touch_, bucket);
        return;
    }
    if (index_.size() >= capacity_) {
        index_.erase(by_touch_.front().key);
        by_touch_.pop_front();
    }
    by_touch_.push_back({key, burst_ - 1.0, now});
    index_.emplace(key, std::prev(by_touch_.end()));
}

CallBudget::CallBudget(double per_second)
    : per_second_(per_second), tokens_(std::max(1.0, per_second)), last_(Clock::now()) {}

bool CallBudget::try_take(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    std::chrono::duration<double> elapsed = now - last_;
    if (elapsed.count() > 0) last_ = now;
    tokens_ = std::min(std::max(1.0, per_second_),
                       tokens_ + std::max(0.0, elapsed.count()) * per_second_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

}  // namespace bot
