// WeCom's side of an AI bot (智能机器人), for tests: WecomBotClient sends encrypted JSON
// callbacks (messages, stream refreshes, events) to the bot like WeCom does and decrypts the
// answers; ResponseUrlServer receives active replies posted to a message's response_url.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bot::testing {

class WecomBotClient {
public:
    WecomBotClient(std::string url, std::string token, std::string encoding_aes_key);

    struct Answer {
        long status = 0;
        nlohmann::json reply;  // decrypted and signature-checked; null for an empty body
        std::string raw;
    };

    // One callback: payload is encrypted, signed and POSTed.
    Answer post(const nlohmann::json& payload) const;
    // POST with a given query and body, as is (forged and malformed callbacks).
    std::pair<long, std::string> post_raw(const std::string& query, const std::string& body) const;
    // The signed query and body for payload (encrypted with receive_id, normally ""), signed
    // with the timestamp at (Unix seconds; default: now).
    std::pair<std::string, std::string> sign(const nlohmann::json& payload,
                                             const std::string& receive_id = {},
                                             std::optional<std::time_t> at = {}) const;

    static nlohmann::json text_message(const std::string& msgid, const std::string& user,
                                       const std::string& text, const std::string& chatid = {},
                                       const std::string& response_url = {});
    static nlohmann::json refresh(const std::string& msgid, const std::string& user,
                                  const std::string& stream_id);

    // What WeCom shows: sends the message, then refreshes its stream every interval until a
    // frame finishes (or timeout). Returns every frame's content in order, the last one final.
    struct Conversation {
        std::string stream_id;
        std::vector<std::string> frames;
        bool finished = false;
    };
    Conversation converse(const nlohmann::json& message,
                          std::chrono::milliseconds interval = std::chrono::milliseconds(100),
                          std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

private:
    std::string url_, token_, aes_key_;
};

class ResponseUrlServer {
public:
    ResponseUrlServer();
    ~ResponseUrlServer();
    std::string url(const std::string& name) const;  // a fresh one-shot URL
    std::vector<nlohmann::json> received() const;
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
