// The newest session webhook of each chat (the URL DingTalk hands with every robot message to
// answer that conversation without a token, valid until sessionWebhookExpiredTime). Kept in
// memory and, so that a restart within its validity still answers through it, in the adapter's
// durable state (kind "session_webhook", key = chat id, value "<expires ms> <url>"), written
// only when the URL changes or its expiry moves by more than kRewriteAfter.
#pragma once

#include "bot/adapter.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bot::adapters::dingtalk {

struct SessionWebhook {
    std::string url;
    std::int64_t expires_ms = 0;
};

class SessionWebhooks {
public:
    explicit SessionWebhooks(AdapterState& state);

    // Remembers a chat's webhook; true when the durable copy should be rewritten (persist()).
    // Past kSweepFloor chats, the expired ones are dropped from memory now and then.
    bool remember(const std::string& chat_id, SessionWebhook webhook, std::int64_t now_ms);
    net::awaitable<void> persist(const std::string& chat_id);
    // The chat's webhook when one is known and valid margin_ms past now_ms.
    net::awaitable<std::optional<SessionWebhook>> usable(const std::string& chat_id,
                                                         std::int64_t now_ms,
                                                         std::int64_t margin_ms);
    // DingTalk refused it (the session is gone): never used again.
    net::awaitable<void> forget(const std::string& chat_id, const std::string& url);

private:
    struct Entry {
        SessionWebhook webhook;
        std::int64_t persisted_expiry = -1;  // -1: not written yet
        bool loaded = false;                 // the durable copy was read (or is newer)
    };
    AdapterState& state_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::size_t sweep_at_;
};

}  // namespace bot::adapters::dingtalk
