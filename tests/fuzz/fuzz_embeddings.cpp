// The /embeddings answer reader (llm/embeddings_codec.*): whatever the provider sends, a result
// has exactly the vectors asked for, of one size within the cap, all finite; anything else is
// nullopt, never an exception.
#include "fuzz_support.hpp"
#include "llm/embeddings_codec.hpp"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    for (std::size_t expected : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
        const auto vectors = bot::llm::parse_embeddings(text, expected);
        if (!vectors) continue;
        fuzz::require(vectors->size() == expected, "not as many vectors as inputs");
        for (const auto& vector : *vectors) {
            fuzz::require(!vector.empty(), "an empty vector");
            fuzz::require(vector.size() == vectors->front().size(), "vectors of different sizes");
            fuzz::require(vector.size() <= bot::llm::kMaxEmbeddingDimensions, "vector too long");
            for (float value : vector) fuzz::require(std::isfinite(value), "not finite");
        }
    }
    return 0;
}
