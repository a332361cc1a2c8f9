// Shares of the server that no one client may take all of: connections and websockets per
// address, and the bytes of request bodies held at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace bot::http {

// How many of something (connections, websockets) each address holds, up to a limit. One map
// under a mutex: taken once per connection or upgrade, never per request.
class AddressLimit : public std::enable_shared_from_this<AddressLimit> {
public:
    static std::shared_ptr<AddressLimit> make(std::size_t limit) {
        return std::shared_ptr<AddressLimit>(new AddressLimit(limit));
    }

    // One held; given back when destroyed. Keeps the limit alive (it may outlive the server's
    // other parts in a completion handler).
    class Slot {
    public:
        Slot(Slot&& other) noexcept
            : owner_(std::move(other.owner_)), address_(std::move(other.address_)) {}
        Slot& operator=(Slot&& other) noexcept {
            if (this == &other) return *this;
            Slot old(std::move(*this));  // gives back what this held
            owner_ = std::move(other.owner_);
            address_ = std::move(other.address_);
            return *this;
        }
        ~Slot() {
            if (owner_) owner_->release(address_);
        }

    private:
        friend class AddressLimit;
        Slot(std::shared_ptr<AddressLimit> owner, std::string address)
            : owner_(std::move(owner)), address_(std::move(address)) {}
        std::shared_ptr<AddressLimit> owner_;
        std::string address_;
    };

    // nullopt when address already holds the limit.
    std::optional<Slot> acquire(std::string address);
    std::size_t held(const std::string& address) const;

private:
    explicit AddressLimit(std::size_t limit) : limit_(limit) {}
    void release(const std::string& address);

    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> held_;  // only addresses holding some
};

// Bytes of request bodies the server holds at once, over every connection: a reservation is
// made from the announced length before a body is read, and given back when the request is
// done. One client address may hold an eighth of it (and always one body when the whole budget
// has room): a client announcing bodies it never sends cannot take the budget from others.
class BodyBudget {
public:
    explicit BodyBudget(std::size_t limit) : limit_(limit), per_address_(limit / 8) {}

    class Reservation {
    public:
        Reservation(Reservation&& other) noexcept
            : budget_(std::exchange(other.budget_, nullptr)),
              address_(std::move(other.address_)),
              bytes_(other.bytes_) {}
        Reservation& operator=(Reservation&& other) noexcept {
            if (this == &other) return *this;
            Reservation old(std::move(*this));  // gives back what this held
            budget_ = std::exchange(other.budget_, nullptr);
            address_ = std::move(other.address_);
            bytes_ = other.bytes_;
            return *this;
        }
        ~Reservation() {
            if (budget_) budget_->give_back(address_, bytes_);
        }

    private:
        friend class BodyBudget;
        Reservation(BodyBudget* budget, std::string address, std::size_t bytes)
            : budget_(budget), address_(std::move(address)), bytes_(bytes) {}
        BodyBudget* budget_;
        std::string address_;
        std::size_t bytes_;
    };

    // nullopt when bytes more would exceed the budget or the address's share of it.
    std::optional<Reservation> reserve(std::size_t bytes, const std::string& address);
    std::size_t in_use() const;

private:
    void give_back(const std::string& address, std::size_t bytes);

    const std::size_t limit_;
    const std::size_t per_address_;
    mutable std::mutex mutex_;
    std::size_t used_ = 0;
    std::unordered_map<std::string, std::size_t> by_address_;  // addresses holding some only
};

}  // namespace bot::http
