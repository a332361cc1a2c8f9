#include "fakes/fake_embeddings.hpp"

#include "base/async.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <functional>

namespace bot::testing {

using nlohmann::json;

std::vector<float> FakeEmbeddings::vector_of(std::string_view text,
                                             const std::map<std::string, std::string>& synonyms) {
    std::vector<float> vector(kDimensions, 0.0f);
    const auto add = [&](std::string word) {
        if (auto same = synonyms.find(word); same != synonyms.end()) word = same->second;
        vector[std::hash<std::string>{}(word) % kDimensions] += 1.0f;
    };
    std::string word;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (std::isalnum(c)) {
            word += static_cast<char>(std::tolower(c));
            continue;
        }
        if (word.size() > 1) add(word);
        word.clear();
        if (c >= 0xE0) {  // a three- or four-byte character: CJK, one word each
            std::size_t length = c >= 0xF0 ? 4 : 3;
            add(std::string(text.substr(i, length)));
            i += length - 1;
        }
    }
    if (word.size() > 1) add(word);
    return vector;
}

void FakeEmbeddings::synonym(std::string word, std::string same_as) {
    std::lock_guard lock(mutex_);
    synonyms_[std::move(word)] = std::move(same_as);
}

void FakeEmbeddings::fail_with(int status) {
    std::lock_guard lock(mutex_);
    fail_status_ = status;
}

void FakeEmbeddings::delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    delay_ = delay;
}

std::size_t FakeEmbeddings::request_count() const {
    std::lock_guard lock(mutex_);
    return count_;
}

std::vector<std::string> FakeEmbeddings::inputs() const {
    std::lock_guard lock(mutex_);
    return inputs_;
}

boost::asio::awaitable<http::Response> FakeEmbeddings::handle(const http::Request& request) {
    int fail_status = 0;
    std::chrono::milliseconds delay{0};
    std::map<std::string, std::string> synonyms;
    {
        std::lock_guard lock(mutex_);
        ++count_;
        fail_status = fail_status_;
        delay = delay_;
        synonyms = synonyms_;
    }
    co_await sleep_for(delay);
    if (fail_status != 0) co_return http::Response::error(fail_status, "fake embeddings: failing");
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("input") || !body["input"].is_array() ||
        !body.contains("model") || !body["model"].is_string()) {
        co_return http::Response::error(400, "fake embeddings: bad request");
    }
    json data = json::array();
    std::size_t index = 0;
    for (const auto& input : body["input"]) {
        if (!input.is_string()) co_return http::Response::error(400, "input must be strings");
        const auto text = input.get<std::string>();
        {
            std::lock_guard lock(mutex_);
            inputs_.push_back(text);
        }
        data.push_back({{"object", "embedding"},
                        {"index", index++},
                        {"embedding", vector_of(text, synonyms)}});
    }
    co_return http::Response::json(
        200, json{{"object", "list"}, {"data", data}, {"model", body["model"]}});
}

}  // namespace bot::testing
