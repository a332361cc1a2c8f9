#include "bot/http/limits.hpp"

#include <algorithm>

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

std::optional<BodyBudget::Reservation> BodyBudget::reserve(std::size_t bytes,
                                                           const std::string& address) {
    {
        std::lock_guard lock(mutex_);
        if (bytes > limit_ || used_ > limit_ - bytes) return std::nullopt;
        auto held = by_address_.find(address);
        if (held != by_address_.end() && held->second + bytes > per_address_) return std::nullopt;
        used_ += bytes;
        if (held == by_address_.end()) held = by_address_.emplace(address, 0).first;
        held->second += bytes;
    }
    return Reservation(this, address, bytes);
}

std::size_t BodyBudget::in_use() const {
    std::lock_guard lock(mutex_);
    return used_;
}

void BodyBudget::give_back(const std::string& address, std::size_t bytes) {
    std::lock_guard lock(mutex_);
    used_ -= bytes;
    auto held = by_address_.find(address);
    if (held == by_address_.end()) return;
    held->second -= std::min(held->second, bytes);
    if (held->second == 0) by_address_.erase(held);
}

}  // namespace bot::http
