// The message ids /forget deleted, kept for a while as keyed hashes (migration 6). The inbox
// recognises a redelivered or replayed message by its row (adapter, message id); once /forget
// has deleted that row, only this table still tells that the message was answered before.
// An entry is HMAC-SHA256(installation key, adapter id and message id): no id, user or text in
// clear. The key (random, made on first use) lives in the same database, so whoever holds the
// whole file can test a guessed id; the hash carries no user id, so that still names nobody.
// Used by the writer thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bot::storage {

class Database;

class ForgottenMessages {
public:
    // Reads the installation's key from db, making it first if there is none.
    explicit ForgottenMessages(Database& db);
    ~ForgottenMessages();
    ForgottenMessages(const ForgottenMessages&) = delete;
    ForgottenMessages& operator=(const ForgottenMessages&) = delete;

    // (adapter, message id) was forgotten and its entry has not expired at now_ms. One primary
    // key lookup: the inbox asks this for every message.
    bool contains(Database& db, std::string_view adapter_id, std::string_view message_id,
                  std::int64_t now_ms);
    // Keeps (adapter, message id) until expires_at_ms (the later expiry if already kept).
    void add(Database& db, std::string_view adapter_id, std::string_view message_id,
             std::int64_t expires_at_ms);
    // Deletes the entries expired at now_ms.
    static void purge(Database& db, std::int64_t now_ms);

private:
    using Digest = std::array<unsigned char, 32>;
    Digest digest(std::string_view adapter_id, std::string_view message_id);

    void read_latest_expiry(Database& db);

    std::string key_;                    // the installation's HMAC key
    std::int64_t latest_expiry_ms_ = 0;  // no entry is kept past it
};

// The /forget request (adapter, user, inbox_id) once its confirmation is no longer pending:
// deletes its inbox row (its outbox row goes with it) and keeps its id until expires_at_ms.
// Only a row that forget_user kept (its text erased) qualifies.
void erase_forget_request(Database& db, ForgottenMessages& forgotten, std::string_view adapter_id,
                          std::string_view user_id, std::int64_t inbox_id,
                          std::int64_t expires_at_ms);

}  // namespace bot::storage
