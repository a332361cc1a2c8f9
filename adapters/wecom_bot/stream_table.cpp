#include "wecom_bot/stream_table.hpp"

#include "base/random_id.hpp"
#include "base/text_split.hpp"

namespace bot::adapters::wecom_bot {

namespace {
// Streams are kept a while after WeCom stops asking, so a late retry still finds its answer.
constexpr std::chrono::minutes kKeepAfterWindow{2};
// A final text handed over after the window still goes out if WeCom refreshes this soon.
constexpr std::chrono::seconds kLateRefresh{15};
}  // namespace

struct StreamTable::Stream {
    Stream(std::string i, std::string m, Clock::time_point t)
        : id(std::move(i)), msgid(std::move(m)), started(t) {}
    std::string id, msgid;
    Clock::time_point started;
    std::string text;  // generated so far
    bool finished = false;
    std::string final_text;  // what finishing frames carry (repeated for lost responses)
    struct Offer {
        Offer(std::string t, net::any_io_executor executor)
            : text(std::move(t)), decided(std::move(executor)) {}
        std::string text;
        AsyncEvent decided;
        bool taken = false;
    };
    std::shared_ptr<Offer> offer;
};

StreamTable::StreamTable(net::any_io_executor executor, StreamOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

std::string StreamTable::capped(std::string text) const {
    text.resize(utf8_floor(text, options_.max_bytes));
    return text;
}

void StreamTable::sweep_locked(Clock::time_point now) {
    while (!by_age_.empty() && now - by_age_.front().first > options_.window + kKeepAfterWindow) {
        auto it = by_id_.find(by_age_.front().second);
        if (it != by_id_.end()) {
            id_of_msg_.erase(it->second->msgid);
            by_id_.erase(it);
        }
        by_age_.pop_front();
    }
}

std::string StreamTable::open(const std::string& msgid) {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    sweep_locked(now);
    if (auto it = id_of_msg_.find(msgid); it != id_of_msg_.end()) return it->second;
    auto id = random_hex(16);
    by_id_.emplace(id, std::make_shared<Stream>(id, msgid, now));
    id_of_msg_.emplace(msgid, id);
    by_age_.emplace_back(now, id);
    return id;
}

void StreamTable::append(const std::string& msgid, std::string_view delta) {
    std::lock_guard lock(mutex_);
    auto it = id_of_msg_.find(msgid);
    if (it == id_of_msg_.end()) return;
    auto& stream = *by_id_.at(it->second);
    if (!stream.finished) stream.text.append(delta);
}

StreamTable::Frame StreamTable::refresh(const std::string& stream_id) {
    std::lock_guard lock(mutex_);
    auto it = by_id_.find(stream_id);
    if (it == by_id_.end()) return {.content = options_.timeout_notice, .finish = true};
    auto& stream = *it->second;
    if (stream.finished) return {.content = stream.final_text, .finish = true};
    if (stream.offer) {
        auto offer = std::exchange(stream.offer, nullptr);
        stream.finished = true;
        stream.final_text = capped(offer->text);
        offer->taken = true;
        offer->decided.set();
        return {.content = stream.final_text, .finish = true};
    }
    if (Clock::now() - stream.started >= options_.window) {
        // Close cleanly before WeCom gives up on its own: what was written so far, and why it
        // stops there. (The whole reply follows by response_url when it is done.)
        std::string notice = "\n\n" + options_.timeout_notice;
        std::string text = stream.text;
        text.resize(utf8_floor(
            text, options_.max_bytes > notice.size() ? options_.max_bytes - notice.size() : 0));
        stream.finished = true;
        stream.final_text = capped(text + notice);
        return {.content = stream.final_text, .finish = true};
    }
    return {.content = capped(stream.text), .finish = false};
}

net::awaitable<bool> StreamTable::deliver(std::string msgid, std::string text) {
    std::shared_ptr<Stream> stream;
    std::shared_ptr<Stream::Offer> offer;
    {
        std::lock_guard lock(mutex_);
        auto it = id_of_msg_.find(msgid);
        if (it == id_of_msg_.end()) co_return false;
        stream = by_id_.at(it->second);
        if (stream->finished) co_return false;
        offer = std::make_shared<Stream::Offer>(std::move(text), executor_);
        stream->offer = offer;
    }
    auto deadline = std::max(stream->started + options_.window, Clock::now()) + kLateRefresh;
    co_await offer->decided.wait_until(deadline);
    std::lock_guard lock(mutex_);
    if (stream->offer == offer) stream->offer.reset();
    co_return offer->taken;
}

std::size_t StreamTable::size() const {
    std::lock_guard lock(mutex_);
    return by_id_.size();
}

}  // namespace bot::adapters::wecom_bot
