// SQL of the memory (issue 24, h/summary): rolling summaries, their durable jobs and the users'
// facts (tables in migration 10). Free functions over a Database, run on the store's threads:
// writes inside the writer's transaction, so every function here is atomic with its caller.
#pragma once

#include "storage/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::storage {

class Database;

// The dedupe key of a fact: ASCII lower case, runs of whitespace and punctuation at the ends
// dropped, inner whitespace collapsed to one space.
std::string normalize_fact(std::string_view text);

// Fills context.summary and context.summarized_through for a conversation (row id).
void read_summary(Database& db, std::int64_t conversation, Context& context);

std::optional<std::int64_t> write_summary_job(Database& db, const ConversationKey& key,
                                              const std::string& conversation_id, int keep_turns,
                                              std::int64_t now_ms);
std::vector<SummaryJob> read_due_summaries(Database& db, std::int64_t now_ms);
SummaryInput read_summary_input(Database& db, std::int64_t conversation, int max_turns);
SummaryCommit write_summary(Database& db, const SummaryUpdate& update, std::int64_t now_ms);
void write_summary_failed(Database& db, std::int64_t conversation, std::int64_t not_before_ms);
void erase_summary_job(Database& db, std::int64_t conversation);

std::vector<Fact> read_facts(Database& db, const std::string& adapter_id,
                             const std::string& user_id);
RememberResult write_fact(Database& db, const std::string& adapter_id, const std::string& user_id,
                          const std::string& text, bool from_user, int max_facts,
                          std::int64_t now_ms);
bool erase_fact(Database& db, const std::string& adapter_id, const std::string& user_id,
                int position);

// /forget: the user's facts, and the summaries and jobs of all their conversations.
void erase_user_memory(Database& db, const std::string& adapter_id, const std::string& user_id);

}  // namespace bot::storage
