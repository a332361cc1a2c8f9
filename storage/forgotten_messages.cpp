#include "storage/forgotten_messages.hpp"

#include "base/crypto.hpp"
#include "base/random_id.hpp"
#include "storage/sqlite_db.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace bot::storage {

namespace {

constexpr std::string_view kKeyName = "forgotten_messages";

}  // namespace

ForgottenMessages::ForgottenMessages(Database& db) {
    // 256 random bits; a second process racing to make it keeps whichever was stored first.
    const std::string fresh = random_hex(32);
    db.run(
        "INSERT INTO installation_secrets (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        kKeyName, fresh);
    {
        auto query = db.prepare("SELECT value FROM installation_secrets WHERE name = ?");
        query->bind_all(kKeyName);
        if (!query->step()) throw std::runtime_error("the forgotten_messages key is missing");
        key_ = query->column_text(0);
    }
    read_latest_expiry(db);
}

ForgottenMessages::~ForgottenMessages() = default;

void ForgottenMessages::read_latest_expiry(Database& db) {
    auto query = db.prepare("SELECT coalesce(max(expires_at), 0) FROM forgotten_messages");
    latest_expiry_ms_ = query->step() ? query->column_int64(0) : 0;
}

ForgottenMessages::Digest ForgottenMessages::digest(std::string_view adapter_id,
                                                    std::string_view message_id) {
    // The adapter id is length-prefixed, so no two pairs hash the same input. (Hashed only while
    // some entry is live: contains() answers without it otherwise.)
    std::string input = std::to_string(adapter_id.size());
    input.append(":").append(adapter_id).append(message_id);
    const std::string mac = crypto::hmac_sha256(key_, input);
    Digest out{};
    std::copy(mac.begin(), mac.end(), out.begin());
    return out;
}

bool ForgottenMessages::contains(Database& db, std::string_view adapter_id,
                                 std::string_view message_id, std::int64_t now_ms) {
    // Nearly always nothing is kept (no /forget in the last days): no hash, no lookup.
    if (now_ms >= latest_expiry_ms_) return false;
    const Digest key = digest(adapter_id, message_id);
    auto query = db.prepare("SELECT expires_at > ?2 FROM forgotten_messages WHERE digest = ?1");
    query->bind_all(Blob{key}, now_ms);
    return query->step() && query->column_bool(0);
}

void ForgottenMessages::add(Database& db, std::string_view adapter_id, std::string_view message_id,
                            std::int64_t expires_at_ms) {
    const Digest key = digest(adapter_id, message_id);
    db.run(
        "INSERT INTO forgotten_messages (digest, expires_at) VALUES (?1, ?2) "
        "ON CONFLICT (digest) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
        Blob{key}, expires_at_ms);
    // Raised before the commit: if the transaction rolls back, it is merely too late.
    latest_expiry_ms_ = std::max(latest_expiry_ms_, expires_at_ms);
}

void ForgottenMessages::purge(Database& db, std::int64_t now_ms) {
    db.run("DELETE FROM forgotten_messages WHERE expires_at <= ?", now_ms);
}

void erase_forget_request(Database& db, ForgottenMessages& forgotten, std::string_view adapter_id,
                          std::string_view user_id, std::int64_t inbox_id,
                          std::int64_t expires_at_ms) {
    std::string message_id;
    {
        auto statement = db.prepare(
            "DELETE FROM inbox WHERE id = ?1 AND adapter_id = ?2 AND user_id = ?3 "
            "AND text = '[forgotten]' "
            "AND NOT EXISTS (SELECT 1 FROM outbox WHERE inbox_id = ?1 AND state = 0) "
            "RETURNING message_id");
        statement->bind_all(inbox_id, adapter_id, user_id);
        while (statement->step()) message_id = statement->column_text(0);
    }
    if (!message_id.empty()) forgotten.add(db, adapter_id, message_id, expires_at_ms);
}

}  // namespace bot::storage
