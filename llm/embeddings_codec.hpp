// The answer of an OpenAI-compatible POST /embeddings, read and type-checked (network bytes:
// see tests/fuzz/fuzz_embeddings.cpp). Pure: no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace bot::llm {

using Vector = std::vector<float>;

// Largest vector accepted; real models use 256 to 4096 dimensions.
inline constexpr std::size_t kMaxEmbeddingDimensions = 16384;

// The vectors of an /embeddings answer for `expected` inputs, ordered by their "index"
// (position when absent); nullopt unless every field has its type, every index is given once,
// all vectors have the same 1..kMaxEmbeddingDimensions finite numbers.
std::optional<std::vector<Vector>> parse_embeddings(std::string_view body, std::size_t expected);

}  // namespace bot::llm
