#include "bot/http/limits.hpp"

namespace bot::http {

std::optional<AddressLimit::Slot> AddressLimit::acquire(std::string address) {
    {
        std::lock_guard lock(mutex_);
        auto& held = held_[address];
        if (held >= limit_) {
            if (held == 0) held_.erase(address);  // (a limit of 0 admits none)
            return std::nullopt;
        }
        ++held;
    }
    return Slot(shared_from_this(), std::move(address));
}

std::size_t AddressLimit::held(const std::string& address) const {
    std::lock_guard lock(mutex_);
    auto it = held_.find(address);
    return it == held_.end() ? 0 : it->second;
}

void AddressLimit::release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = held_.find(address);
    if (it == held_.end()) return;
    if (--it->second == 0) held_.erase(it);  // the map holds live addresses only
}

std::optional<BodyBudget::Reservation> BodyBudget::reserve(std::size_t bytes) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
        if (bytes > limit_ || used > limit_ - bytes) return std::nullopt;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return Reservation(this, bytes);
}

}  // namespace bot::http
