#include "storage/forgotten_messages.hpp"

#include "base/random_id.hpp"
#include "storage/sqlite_db.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

namespace bot::storage {

namespace {

constexpr std::string_view kKeyName = "forgotten_messages";

[[noreturn]] void hmac_failed(const char* step) {
    throw std::runtime_error(std::string("HMAC-SHA256 (OpenSSL) failed: ") + step);
}

}  // namespace

void ForgottenMessages::FreeMac::operator()(EVP_MAC_CTX* mac) const noexcept {
    EVP_MAC_CTX_free(mac);
}

ForgottenMessages::ForgottenMessages(Database& db) {
    // 256 random bits; a second process racing to make it keeps whichever was stored first.
    const std::string fresh = random_hex(32);
    db.run(
        "INSERT INTO installation_secrets (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        kKeyName, fresh);
    std::string key;
    {
        auto query = db.prepare("SELECT value FROM installation_secrets WHERE name = ?");
        query->bind_all(kKeyName);
        if (!query->step()) throw std::runtime_error("the forgotten_messages key is missing");
        key = query->column_text(0);
    }
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!hmac) hmac_failed("fetch");
    mac_.reset(EVP_MAC_CTX_new(hmac));
    EVP_MAC_free(hmac);  // the context keeps its own reference
    if (!mac_) hmac_failed("new context");
    char sha256[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(mac_.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1) {
        hmac_failed("init");
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
    // Without a key, init starts over with the one set in the constructor (no key schedule
    // per message). The adapter id is length-prefixed, so no two pairs hash the same input.
    char length[24];
    auto end = std::to_chars(length, length + sizeof length - 1, adapter_id.size()).ptr;
    *end++ = ':';
    EVP_MAC_CTX* mac = mac_.get();
    if (EVP_MAC_init(mac, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(mac, reinterpret_cast<const unsigned char*>(length),
                       static_cast<std::size_t>(end - length)) != 1 ||
        EVP_MAC_update(mac, reinterpret_cast<const unsigned char*>(adapter_id.data()),
                       adapter_id.size()) != 1 ||
        EVP_MAC_update(mac, reinterpret_cast<const unsigned char*>(message_id.data()),
                       message_id.size()) != 1) {
        hmac_failed("update");
    }
    Digest out{};
    std::size_t written = 0;
    if (EVP_MAC_final(mac, out.data(), &written, out.size()) != 1 || written != out.size()) {
        hmac_failed("final");
    }
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

}  // namespace bot::storage
