// The replies a WeCom AI bot is streaming. WeCom shows a reply as a "stream": our answer to
// the message names a stream id, then WeCom keeps asking (refresh callbacks) for the text so far
// until a frame says finish, for at most 6 minutes after the user's message. Deltas from the
// LLM fill a stream; the outbox's send() hands over the final text, and is told "delivered"
// only once a refresh carried it in a finishing frame.
#pragma once

#include "base/async.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace bot::adapters::wecom_bot {

struct StreamOptions {
    std::chrono::milliseconds window{330000};  // finish before WeCom's 6 minutes are up
    std::size_t max_bytes = 20480;             // content of one frame, UTF-8 bytes
    std::string timeout_notice;                // ends a stream whose reply outlived window
};

class StreamTable {
public:
    using Clock = std::chrono::steady_clock;

    StreamTable(net::any_io_executor executor, StreamOptions options);

    // The stream answering msgid (the same one for WeCom's retries of the message).
    std::string open(const std::string& msgid);
    void append(const std::string& msgid, std::string_view delta);

    struct Frame {
        std::string content;
        bool finish = false;
    };
    // What a refresh of stream_id gets. An unknown stream (expired, or from before a restart)
    // is finished with the timeout notice, so the user's client stops waiting.
    Frame refresh(const std::string& stream_id);

    // The final text of msgid's reply: true once a refresh carried it; false when the stream
    // is unknown, already finished, or no refresh took it in time.
    net::awaitable<bool> deliver(std::string msgid, std::string text);

    std::size_t size() const;

private:
    struct Stream;
    void sweep_locked(Clock::time_point now);
    std::string capped(std::string text) const;

    net::any_io_executor executor_;
    StreamOptions options_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Stream>, std::less<>> by_id_;
    std::map<std::string, std::string, std::less<>> id_of_msg_;
    std::deque<std::pair<Clock::time_point, std::string>> by_age_;  // stream ids
};

}  // namespace bot::adapters::wecom_bot
