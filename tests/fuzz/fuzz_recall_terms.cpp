// Recall's term derivation (storage/recall_terms.*) on any text a user may send: the terms are
// valid UTF-8, bounded in number and size, query terms are unique and (when the index side was
// not cut at its cap) among the index terms, so a query can find what was indexed.
#include "fuzz_support.hpp"
#include "storage/recall_terms.hpp"

#include <algorithm>
#include <set>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    const auto indexed = bot::storage::index_terms(text, 512);
    const auto query = bot::storage::query_terms(text, 12);
    fuzz::require(indexed.size() <= 512 && query.size() <= 12, "too many terms");
    for (const auto& term : indexed) {
        fuzz::require(!term.empty() && term.size() <= 64, "term size");
        fuzz::require(fuzz::valid_utf8(term), "an index term is not UTF-8");
        fuzz::require(term.find(' ') == std::string::npos, "a term with a space");
    }
    std::set<std::string> unique(query.begin(), query.end());
    fuzz::require(unique.size() == query.size(), "a repeated query term");
    if (indexed.size() < 512) {
        std::set<std::string> index_set(indexed.begin(), indexed.end());
        for (const auto& term : query)
            fuzz::require(index_set.contains(term), "a query term the index never holds");
    }
    return 0;
}
