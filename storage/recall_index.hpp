// The recall index (migration 11): a user's turns found again by their words, and optionally by
// their embeddings. Free functions over a Database, run on the store's writer (writes, in the
// reply's own transaction) or reader threads (recall).
//
// Private by construction. Each (adapter, chat, user) has a random salt (recall_owners), and
// every indexed term is stored as base32(SHA-256(salt | term))[0..13]: the FTS5 table holds no
// word and no id in clear, a query can only ever name its own owner's terms, and the hits are
// still checked against the turn's conversation (adapter, chat, user) before they are used.
// /forget deletes the salt with the rows: FTS5 keeps deleted entries in older segments until it
// merges them, and without the salt those leftovers cannot be tied to anyone or any word.
#pragma once

#include "storage/store.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bot::storage {

class Database;

// Indexes a user turn just stored (message_id) under its key; with vectors set, the turn also
// joins the embeddings' to-do list.
void index_turn(Database& db, const ConversationKey& key, std::int64_t message_id,
                std::string_view text, bool vectors);

// See Store::recall. Reads in one snapshot.
std::vector<RecalledTurn> read_recall(Database& db, const RecallQuery& query);

// Every index entry, vector and salt of (adapter, user) in all chats. Runs before the user's
// conversations and turns are deleted (it finds the entries through them).
void erase_recall(Database& db, const std::string& adapter_id, const std::string& user_id);

std::vector<PendingVector> read_pending_vectors(Database& db, int limit);
void write_vectors(Database& db, const std::vector<PendingVector>& vectors);

// float32 little-endian BLOB codec of a vector (exposed for tests).
std::string vector_blob(const std::vector<float>& vector);
std::vector<float> blob_vector(std::string_view blob);
double cosine(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace bot::storage
