// The fake LLM's OpenAI-compatible POST /v1/embeddings (FakeLlm::embeddings()): deterministic
// vectors, a bag of words hashed into kDimensions (ASCII words lower-cased, CJK characters one
// each), so texts sharing words are similar. Synonyms map a word onto another one's dimension,
// so a test can make texts similar by vector that share no keyword. Failures and delays can be
// set. Thread-safe (the fake's server thread answers, tests configure).
#pragma once

#include "bot/http/http_types.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace bot::testing {

class FakeEmbeddings {
public:
    static constexpr std::size_t kDimensions = 256;
    static std::vector<float> vector_of(std::string_view text,
                                        const std::map<std::string, std::string>& synonyms = {});

    void synonym(std::string word, std::string same_as);
    // Every answer from now on: this HTTP status (0: back to answering), after this delay.
    void fail_with(int status);
    void delay(std::chrono::milliseconds delay);
    std::size_t request_count() const;
    std::vector<std::string> inputs() const;  // every text embedded so far, in order

    boost::asio::awaitable<http::Response> handle(const http::Request& request);

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> synonyms_;
    int fail_status_ = 0;
    std::chrono::milliseconds delay_{0};
    std::size_t count_ = 0;
    std::vector<std::string> inputs_;
};

}  // namespace bot::testing
