#include "bot/reply_tracker.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>

namespace bot {

struct ReplyTracker::Watcher {
    explicit Watcher(net::any_io_executor strand) : timer(std::move(strand)) {}
    std::shared_ptr<ReplyWatch::Channel> channel = std::make_shared<ReplyWatch::Channel>();
    bool claim = false;
    bool deltas = true;
    // The timer lives on its own strand: expiry and cancellation never race.
    net::steady_timer timer;
};

ReplyTracker::~ReplyTracker() {
    for (auto& [key, entry] : entries_) {
        for (auto& watcher : entry.watchers) watcher->channel->events.close();
    }
}

std::string ReplyTracker::key(std::string_view adapter_id, std::string_view message_id) {
    std::string out;
    out.reserve(adapter_id.size() + message_id.size() + 1);
    out.append(adapter_id).push_back('\n');
    out.append(message_id);
    return out;
}

void ReplyTracker::begin(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& entry = entries_[key];
    entry.running = true;
    entry.text.clear();
}

void ReplyTracker::delta(const std::string& key, std::string_view text) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    it->second.text.append(text);
    for (auto& watcher : it->second.watchers) {
        if (!watcher->deltas) continue;
        watcher->channel->events.push_or_merge(ReplyEvent{.kind = ReplyEvent::Kind::delta,
                                                          .text = std::string(text),
                                                          .conversation_id = {},
                                                          .claimed = false},
                                               [](ReplyEvent& waiting, ReplyEvent& next) {
                                                   if (waiting.kind != ReplyEvent::Kind::delta)
                                                       return false;
                                                   waiting.text += next.text;
                                                   return true;
                                               });
    }
}

void ReplyTracker::end(const std::string& key, ReplyEvent final_event, bool claimable,
                       bool* claimed) {
    std::vector<std::shared_ptr<Watcher>> watchers;
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end()) return;
        watchers = std::move(it->second.watchers);
        entries_.erase(it);
    }
    for (auto& watcher : watchers) {
        ReplyEvent event = final_event;
        if (claimable && watcher->claim && !*claimed && !watcher->channel->detached) {
            event.claimed = *claimed = true;
        }
        watcher->channel->events.push(std::move(event));
        // Cancel on the timer's strand; the captured pointer keeps the watcher alive until then.
        net::post(watcher->timer.get_executor(), [watcher] { watcher->timer.cancel(); });
    }
}

bool ReplyTracker::finish(const std::string& key, const std::string& reply,
                          const std::string& conversation_id) {
    bool claimed = false;
    end(key,
        ReplyEvent{.kind = ReplyEvent::Kind::done,
                   .text = reply,
                   .conversation_id = conversation_id,
                   .claimed = false},
        true, &claimed);
    return claimed;
}

void ReplyTracker::abandon(const std::string& key) {
    bool claimed = false;
    end(key, ReplyEvent{}, false, &claimed);
}

ReplyWatch ReplyTracker::watch(const std::string& key, std::chrono::milliseconds wait, bool claim,
                               bool deltas) {
    auto watcher = std::make_shared<Watcher>(make_io_strand(executor_));
    watcher->claim = claim;
    watcher->deltas = deltas;
    {
        std::lock_guard lock(mutex_);
        auto& entry = entries_[key];
        if (deltas && !entry.text.empty()) {
            watcher->channel->events.push(ReplyEvent{.kind = ReplyEvent::Kind::delta,
                                                     .text = entry.text,
                                                     .conversation_id = {},
                                                     .claimed = false});
        }
        entry.watchers.push_back(watcher);
    }
    // Registered first, so an expiry always finds it; armed on the timer's strand, so a
    // cancellation posted by finish() is ordered after it.
    net::post(watcher->timer.get_executor(), [this, key, watcher, wait] {
        watcher->timer.expires_after(wait);
        watcher->timer.async_wait([this, key, watcher](boost::system::error_code ec) {
            if (!ec) expire(key, watcher);
        });
    });
    return ReplyWatch(watcher->channel);
}

void ReplyTracker::expire(const std::string& key, const std::shared_ptr<Watcher>& watcher) {
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end()) return;  // finished first: done was already delivered
        auto& watchers = it->second.watchers;
        auto found = std::find(watchers.begin(), watchers.end(), watcher);
        if (found == watchers.end()) return;
        watchers.erase(found);
        if (watchers.empty() && !it->second.running) entries_.erase(it);
    }
    watcher->channel->events.push(ReplyEvent{});  // timeout
}

ReplyWatch ReplyTracker::ready(std::string reply, std::string conversation_id, bool claimed) {
    auto channel = std::make_shared<ReplyWatch::Channel>();
    channel->events.push(ReplyEvent{.kind = ReplyEvent::Kind::done,
                                    .text = std::move(reply),
                                    .conversation_id = std::move(conversation_id),
                                    .claimed = claimed});
    return ReplyWatch(std::move(channel));
}

std::size_t ReplyTracker::active() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace bot
