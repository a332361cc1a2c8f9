#include "dingtalk/session_webhooks.hpp"

#include <charconv>

namespace bot::adapters::dingtalk {

namespace {
constexpr const char* kKind = "session_webhook";
// An expiry that moved less than this is not rewritten: one write per chat per ~10 minutes
// at most, not one per message.
constexpr std::int64_t kRewriteAfter = 10 * 60 * 1000;
constexpr std::size_t kSweepFloor = 4096;

std::optional<SessionWebhook> decode(const std::string& value) {
    auto space = value.find(' ');
    if (space == std::string::npos) return std::nullopt;
    SessionWebhook webhook;
    auto [end, error] = std::from_chars(value.data(), value.data() + space, webhook.expires_ms);
    if (error != std::errc() || end != value.data() + space) return std::nullopt;
    webhook.url = value.substr(space + 1);
    if (webhook.url.empty()) return std::nullopt;
    return webhook;
}
}  // namespace

SessionWebhooks::SessionWebhooks(AdapterState& state) : state_(state), sweep_at_(kSweepFloor) {}

bool SessionWebhooks::remember(const std::string& chat_id, SessionWebhook webhook,
                               std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= sweep_at_) {
        // (A chat swept here reads its durable copy again when it is next answered.)
        std::erase_if(entries_,
                      [&](const auto& entry) { return entry.second.webhook.expires_ms < now_ms; });
        sweep_at_ = std::max(kSweepFloor, entries_.size() * 2);
    }
    auto& entry = entries_[chat_id];
    entry.loaded = true;  // this one is newer than whatever is stored
    const bool rewrite = entry.webhook.url != webhook.url ||
                         webhook.expires_ms - entry.persisted_expiry > kRewriteAfter;
    entry.webhook = std::move(webhook);
    return rewrite;
}

net::awaitable<void> SessionWebhooks::persist(const std::string& chat_id) {
    std::string value;
    std::int64_t expiry = 0;
    {
        std::lock_guard lock(mutex_);
        auto found = entries_.find(chat_id);
        if (found == entries_.end() || found->second.webhook.url.empty()) co_return;
        expiry = found->second.webhook.expires_ms;
        value = std::to_string(expiry) + ' ' + found->second.webhook.url;
        found->second.persisted_expiry = expiry;
    }
    co_await state_.put(kKind, chat_id, std::move(value));
}

net::awaitable<std::optional<SessionWebhook>> SessionWebhooks::usable(const std::string& chat_id,
                                                                      std::int64_t now_ms,
                                                                      std::int64_t margin_ms) {
    bool load = false;
    {
        std::lock_guard lock(mutex_);
        auto found = entries_.find(chat_id);
        load = found == entries_.end() || !found->second.loaded;
    }
    if (load) {
        // After a restart: the stored copy, read once per chat.
        std::optional<SessionWebhook> stored;
        if (auto value = co_await state_.get(kKind, chat_id)) {
            stored = decode(*value);
            // An expired (or unreadable) copy is of no use again.
            if (!stored || stored->expires_ms <= now_ms) {
                stored.reset();
                co_await state_.erase(kKind, chat_id);
            }
        }
        std::lock_guard lock(mutex_);
        auto& entry = entries_[chat_id];
        if (!entry.loaded) {
            entry.loaded = true;
            if (stored) {
                entry.webhook = std::move(*stored);
                entry.persisted_expiry = entry.webhook.expires_ms;
            }
        }
    }
    std::lock_guard lock(mutex_);
    const auto& webhook = entries_[chat_id].webhook;
    if (webhook.url.empty() || webhook.expires_ms - margin_ms <= now_ms) co_return std::nullopt;
    co_return webhook;
}

net::awaitable<void> SessionWebhooks::forget(const std::string& chat_id, const std::string& url) {
    {
        std::lock_guard lock(mutex_);
        auto found = entries_.find(chat_id);
        // A newer webhook that came meanwhile stays.
        if (found == entries_.end() || found->second.webhook.url != url) co_return;
        found->second.webhook = {};
        found->second.persisted_expiry = -1;
    }
    co_await state_.erase(kKind, chat_id);
}

}  // namespace bot::adapters::dingtalk
