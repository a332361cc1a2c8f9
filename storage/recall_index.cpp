#include "storage/recall_index.hpp"

#include "base/crypto.hpp"
#include "storage/recall_terms.hpp"
#include "storage/sqlite_db.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>

namespace bot::storage {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr int kPostingsPerTerm = 100;
// The IDF's collection size: a nominal one (the owner's count is not kept, which would cost
// every stored turn a write). It sets how much matching one more term outweighs rarity.
constexpr double kNominalTurns = 10000;

// 13 base32 characters (65 bits, of which 64 from the hash): lower-case letters and digits, so
// FTS5's ascii tokenizer keeps each as one token and a bare word in MATCH needs no quoting.
std::string hashed_term(std::string_view salt, std::string_view term) {
    std::string input(salt);
    input.append(term);
    const std::string digest = crypto::sha256(input);
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(digest[i]);
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out(13, 'a');
    for (int i = 12; i >= 0; --i) {
        out[i] = kAlphabet[bits & 31];
        bits >>= 5;
    }
    return out;
}

struct Owner {
    std::int64_t id = 0;
    std::string salt;
};

std::optional<Owner> find_owner(Database& db, const ConversationKey& key) {
    auto query = db.prepare(
        "SELECT id, salt FROM recall_owners WHERE adapter_id = ? AND chat_id = ? AND user_id = ?");
    query->bind_all(key.adapter_id, key.chat_id, key.user_id);
    if (!query->step()) return std::nullopt;
    return Owner{query->column_int64(0), query->column_text(1)};
}

Owner owner_for(Database& db, const ConversationKey& key) {
    if (auto owner = find_owner(db, key)) return *owner;
    Owner owner{0, crypto::random_bytes(kSaltBytes)};
    const auto salt = reinterpret_cast<const unsigned char*>(owner.salt.data());
    db.run("INSERT INTO recall_owners (adapter_id, chat_id, user_id, salt) VALUES (?, ?, ?, ?)",
           key.adapter_id, key.chat_id, key.user_id, Blob{{salt, owner.salt.size()}});
    owner.id = db.last_insert_rowid();
    return owner;
}

// The first id of the active conversation's newest `turns` turns (all of them when it has
// fewer): rows from it on are in the context already. Ids grow with time and the active
// conversation is the chat's newest, so "id < this" is "older than the context" for the owner.
std::int64_t window_start(Database& db, const ConversationKey& key, int turns) {
    if (turns <= 0) return std::numeric_limits<std::int64_t>::max();
    auto query = db.prepare(
        "SELECT min(id) FROM (SELECT messages.id FROM conversations JOIN messages "
        "ON messages.conversation_id = conversations.id WHERE conversations.adapter_id = ? "
        "AND conversations.chat_id = ? AND conversations.user_id = ? AND conversations.active = 1 "
        "ORDER BY messages.id DESC LIMIT ?)");
    query->bind_all(key.adapter_id, key.chat_id, key.user_id, turns);
    if (!query->step() || query->column_is_null(0)) return std::numeric_limits<std::int64_t>::max();
    return query->column_int64(0);
}

struct Candidate {
    RecalledTurn turn;
    bool keyword_hit = false;
    std::optional<std::vector<float>> vector;
};

// The turn, its answer, and the check that it is the owner's: (adapter, chat, user) of its
// conversation. Returns false for anything else (a hash collision would end here).
bool load_turn(Database& db, const ConversationKey& key, RecalledTurn& turn) {
    auto query = db.prepare(
        "SELECT m.content, m.created_at, (SELECT a.content FROM messages a "
        "WHERE a.conversation_id = m.conversation_id AND a.id > m.id ORDER BY a.id LIMIT 1) "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.id = ? AND m.role = 'user' AND c.adapter_id = ? AND c.chat_id = ? "
        "AND c.user_id = ?");
    query->bind_all(turn.message_id, key.adapter_id, key.chat_id, key.user_id);
    if (!query->step()) return false;
    turn.user_text = query->column_text(0);
    turn.at_ms = query->column_int64(1);
    turn.reply = query->column_text(2);
    return true;
}

}  // namespace

void index_turn(Database& db, const ConversationKey& key, std::int64_t message_id,
                std::string_view text, bool vectors) {
    const auto terms = index_terms(text);
    if (terms.empty() && !vectors) return;
    const Owner owner = owner_for(db, key);
    if (!terms.empty()) {
        std::string document;
        document.reserve(terms.size() * 14);
        for (const auto& term : terms) {
            if (!document.empty()) document += ' ';
            document += hashed_term(owner.salt, term);
        }
        db.run("INSERT INTO recall_fts (rowid, terms) VALUES (?, ?)", message_id, document);
    }
    // A blank turn has nothing to embed (and some providers refuse empty input).
    if (vectors && text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        db.run("INSERT INTO recall_vectors (owner_id, message_id, vector) VALUES (?, ?, NULL)",
               owner.id, message_id);
    }
}

std::vector<RecalledTurn> read_recall(Database& db, const RecallQuery& query) {
    Transaction snapshot(db, Transaction::Kind::deferred);
    std::vector<RecalledTurn> out;
    const auto owner = find_owner(db, query.key);
    if (!owner || query.limit <= 0) return out;
    const std::int64_t before = window_start(db, query.key, query.exclude_newest);

    // Keyword candidates, scored like BM25 with binary term frequency: the sum of the IDF of
    // the query terms a turn holds (chat turns are short: a term rarely repeats in one, and
    // their lengths differ little). Each term reads only its newest kPostingsPerTerm postings
    // (rowid order, which FTS5 walks without sorting), so the cost is bounded whatever the
    // history's size; a term with that many is a common one, weighed down by its IDF anyway.
    // FTS5's own bm25() reads every matching row's size, ~7 us a row: 7 ms for a user with
    // 10,000 turns. The owner's salt is in every term, so the doclists read are the owner's.
    std::map<std::int64_t, Candidate> candidates;
    const bool by_vector = !query.vector.empty();
    {
        auto postings = db.prepare(
            "SELECT rowid FROM recall_fts WHERE recall_fts MATCH ? AND rowid < ? "
            "ORDER BY rowid DESC LIMIT ?");
        std::vector<std::int64_t> rows;
        for (const auto& term : query_terms(query.text)) {
            const std::string token = hashed_term(owner->salt, term);
            postings->bind_all(token, before, kPostingsPerTerm);
            rows.clear();
            while (postings->step()) rows.push_back(postings->column_int64(0));
            postings->reset();
            if (rows.empty()) continue;
            const double df = static_cast<double>(rows.size());
            const double idf = std::log(1.0 + (kNominalTurns - df + 0.5) / (df + 0.5));
            for (std::int64_t row : rows) {
                Candidate& candidate = candidates[row];
                candidate.turn.message_id = row;
                candidate.turn.score += idf;
                candidate.keyword_hit = true;
            }
        }
    }
    if (by_vector && candidates.size() > static_cast<std::size_t>(query.limit) * 4) {
        // The best keyword matches join the vector candidates; the rest would each cost a read.
        std::vector<std::pair<double, std::int64_t>> order;
        for (const auto& [id, candidate] : candidates) order.emplace_back(candidate.turn.score, id);
        std::sort(order.begin(), order.end(), std::greater<>());
        for (std::size_t i = static_cast<std::size_t>(query.limit) * 4; i < order.size(); ++i)
            candidates.erase(order[i].second);
    }
    if (by_vector) {
        // The owner's newest vectors (primary key range), then those of keyword hits not among
        // them; cosine similarity decides, a keyword hit adding a little.
        auto newest = db.prepare(
            "SELECT message_id, vector FROM recall_vectors WHERE owner_id = ? AND message_id < ? "
            "AND vector IS NOT NULL ORDER BY message_id DESC LIMIT ?");
        newest->bind_all(owner->id, before, query.vector_candidates);
        while (newest->step()) {
            Candidate& candidate = candidates[newest->column_int64(0)];
            candidate.turn.message_id = newest->column_int64(0);
            candidate.vector = blob_vector(newest->column_text(1));
        }
        for (auto& [id, candidate] : candidates) {
            if (candidate.vector) continue;
            auto one = db.prepare(
                "SELECT vector FROM recall_vectors WHERE owner_id = ? AND message_id = ? "
                "AND vector IS NOT NULL");
            one->bind_all(owner->id, id);
            if (one->step()) candidate.vector = blob_vector(one->column_text(0));
        }
        for (auto it = candidates.begin(); it != candidates.end();) {
            Candidate& candidate = it->second;
            const double similarity =
                candidate.vector ? cosine(query.vector, *candidate.vector) : 0.0;
            candidate.turn.score = similarity + (candidate.keyword_hit ? 0.05 : 0.0);
            if (!candidate.keyword_hit && similarity < query.min_similarity) {
                it = candidates.erase(it);
            } else {
                ++it;
            }
        }
    }
    std::vector<Candidate*> ranked;
    for (auto& [id, candidate] : candidates) ranked.push_back(&candidate);
    std::sort(ranked.begin(), ranked.end(), [](const Candidate* a, const Candidate* b) {
        if (a->turn.score != b->turn.score) return a->turn.score > b->turn.score;
        return a->turn.message_id > b->turn.message_id;
    });
    for (Candidate* candidate : ranked) {
        if (static_cast<int>(out.size()) >= query.limit) break;
        if (load_turn(db, query.key, candidate->turn)) out.push_back(std::move(candidate->turn));
    }
    return out;
}

void erase_recall(Database& db, const std::string& adapter_id, const std::string& user_id) {
    db.run(
        "DELETE FROM recall_fts WHERE rowid IN (SELECT messages.id FROM conversations "
        "JOIN messages ON messages.conversation_id = conversations.id "
        "WHERE conversations.adapter_id = ? AND conversations.user_id = ? "
        "AND messages.role = 'user')",
        adapter_id, user_id);
    db.run(
        "DELETE FROM recall_vectors WHERE owner_id IN "
        "(SELECT id FROM recall_owners WHERE adapter_id = ? AND user_id = ?)",
        adapter_id, user_id);
    db.run("DELETE FROM recall_owners WHERE adapter_id = ? AND user_id = ?", adapter_id, user_id);
}

std::vector<PendingVector> read_pending_vectors(Database& db, int limit) {
    std::vector<PendingVector> out;
    auto query = db.prepare(
        "SELECT recall_vectors.message_id, messages.content FROM recall_vectors "
        "INDEXED BY recall_vectors_pending JOIN messages ON messages.id = "
        "recall_vectors.message_id "
        "WHERE recall_vectors.vector IS NULL ORDER BY recall_vectors.message_id LIMIT ?");
    query->bind_all(limit);
    while (query->step()) out.push_back({query->column_int64(0), query->column_text(1), {}});
    return out;
}

void write_vectors(Database& db, const std::vector<PendingVector>& vectors) {
    for (const PendingVector& turn : vectors) {
        const std::string blob = vector_blob(turn.vector);
        const auto bytes = reinterpret_cast<const unsigned char*>(blob.data());
        // The text check: message ids can be reused once /forget deleted the newest rows.
        db.run(
            "UPDATE recall_vectors SET vector = ?1 WHERE message_id = ?2 AND vector IS NULL "
            "AND EXISTS (SELECT 1 FROM messages WHERE id = ?2 AND content = ?3)",
            Blob{{bytes, blob.size()}}, turn.message_id, turn.text);
    }
}

std::string vector_blob(const std::vector<float>& vector) {
    static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);
    std::string out(vector.size() * 4, '\0');
    for (std::size_t i = 0; i < vector.size(); ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, &vector[i], 4);
        for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
    }
    return out;
}

std::vector<float> blob_vector(std::string_view blob) {
    std::vector<float> out(blob.size() / 4);
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint32_t bits = 0;
        for (int b = 0; b < 4; ++b)
            bits |= std::uint32_t{static_cast<unsigned char>(blob[i * 4 + b])} << (8 * b);
        std::memcpy(&out[i], &bits, 4);
    }
    return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size() || a.empty()) return 0.0;  // another model's vector: no match
    double dot = 0, norm_a = 0, norm_b = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        dot += double{a[i]} * b[i];
        norm_a += double{a[i]} * a[i];
        norm_b += double{b[i]} * b[i];
    }
    if (norm_a <= 0 || norm_b <= 0 || !std::isfinite(dot)) return 0.0;
    return dot / std::sqrt(norm_a * norm_b);
}

}  // namespace bot::storage
