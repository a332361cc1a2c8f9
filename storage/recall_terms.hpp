// The words recall indexes and searches for (storage/recall_index.hpp), derived from a turn's
// text the same way on both sides.
//
// Why not an FTS5 tokenizer: unicode61 keeps a run of Chinese or Japanese characters as one
// token ("我家猫咪叫图灵" is a single word to it), and trigram cannot match a query shorter than
// three characters, yet most Chinese words are two (猫咪, 北京). So runs of CJK characters
// (Han, kana, Hangul) become their single characters plus every overlapping pair ("猫咪叫" ->
// 猫 咪 叫 猫咪 咪叫): a two-character word is found as its pair, a longer one as its pairs.
// Other letters and digits form words; ASCII is lower-cased and fullwidth forms (Ａ, １) are read
// as ASCII.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bot::storage {

// Every term of text, in order, repeats included (bm25 counts them), at most max_terms.
std::vector<std::string> index_terms(std::string_view text, std::size_t max_terms = 512);

// The terms worth searching for: no repeats, no stop words (the, 我们, 的 ...), CJK single
// characters only where they stand alone (a longer run searches by its pairs), at most
// max_terms, preferring longer words and CJK pairs (the rarer ones, as a rule).
std::vector<std::string> query_terms(std::string_view text, std::size_t max_terms = 12);

}  // namespace bot::storage
