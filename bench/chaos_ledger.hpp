// The chaos scenario's ledger (chaos.hpp): what became of every message the users sent.
#pragma once

#include "bench/chaos.hpp"
#include "fakes/fake_telegram.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace bench::chaos {

using Clock = std::chrono::steady_clock;

inline constexpr std::int64_t kFirstChat = 7'000'000;  // Telegram chat (and sender) id of user 0

// What users send: "<path letter><user> m<k>"; the fake LLM answers "echo: <that> #<call>", so
// two answers to one message differ even when the text does.
std::string message_text(char path, int user, int k);

struct Said {
    char path;
    int user;
    int k;
};
// "echo: t3 m7 #12" -> {'t', 3, 7}
std::optional<Said> parse_echo(std::string_view text);
// The server's answer when the LLM kept failing: it names no message.
bool is_apology(std::string_view text);
// A web chat message id, "m<k>" -> k.
std::optional<int> id_number(std::string_view id);

// What became of one message.
struct Fate {
    int deliveries = 0;           // Telegram: sendMessage calls the fake accepted
    std::set<std::string> texts;  // distinct answers seen by the client
    int history_copies = 0;       // web chat: times its user turn is in the stored history
};

struct Tally {
    std::uint64_t sent = 0;
    std::uint64_t answered = 0;
    std::uint64_t apologies = 0;  // answered with the server's apology (the LLM kept failing)
    std::uint64_t lost = 0;
    std::uint64_t twice = 0;
    std::vector<std::string> examples;  // of lost or twice, for diagnosis
};

// What became of every message sent, kept by the user threads and the fake Bot API's thread
// (a delivered sendMessage is a reply), and the clock of the scenario.
class Ledger {
public:
    Ledger(const ChaosSpec& spec, std::uint16_t port) : spec_(spec), port_(port) {
        telegram_waiting_.assign(static_cast<std::size_t>(spec.telegram_users), -1);
    }

    void start() {
        load_end_ = Clock::now() + spec_.duration;
        drain_end_ = load_end_ + spec_.drain;
    }
    bool loading() const { return !abort_ && Clock::now() < load_end_; }
    bool over() const { return abort_ || Clock::now() >= drain_end_; }
    void abort() {
        abort_ = true;
        std::lock_guard lock(mutex_);
        changed_.notify_all();
    }
    Clock::time_point load_end() const { return load_end_; }
    Clock::time_point drain_end() const { return drain_end_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::uint16_t port() const { return port_; }

    // A message is about to be sent (Telegram: the reply may come before the webhook's 200).
    void sending(char path, int user, int k) {
        std::lock_guard lock(mutex_);
        fates_[{path, user, k}];
        if (path == 't') telegram_waiting_[static_cast<std::size_t>(user)] = k;
    }
    void answered(char path, int user, int k, const std::string& text) {
        std::lock_guard lock(mutex_);
        fates_[{path, user, k}].texts.insert(text);
        changed_.notify_all();
    }
    void in_history(int user, int k, const std::string& reply) {
        std::lock_guard lock(mutex_);
        auto& fate = fates_[{'w', user, k}];
        ++fate.history_copies;
        if (!reply.empty()) fate.texts.insert(reply);
    }
    bool has_answer(char path, int user, int k) {
        std::lock_guard lock(mutex_);
        return has_answer_locked(path, user, k);
    }
    // Telegram: waits for the reply to message k of user (true) until timeout or the end.
    bool wait_for_telegram(int user, int k, std::chrono::seconds timeout) {
        std::unique_lock lock(mutex_);
        auto until = std::min(Clock::now() + timeout, drain_end_);
        bool arrived = changed_.wait_until(
            lock, until, [&] { return abort_ || has_answer_locked('t', user, k); });
        telegram_waiting_[static_cast<std::size_t>(user)] = -1;
        return arrived && !abort_;
    }
    // Telegram: true once every message has its reply, or at the end of the drain.
    void wait_for_every_telegram_reply() {
        std::unique_lock lock(mutex_);
        changed_.wait_until(lock, drain_end_, [&] {
            if (abort_) return true;
            for (const auto& [key, fate] : fates_)
                if (std::get<0>(key) == 't' && fate.deliveries == 0) return false;
            return true;
        });
    }

    // Every call the fake Bot API saw (its thread): a delivered sendMessage is a reply.
    void on_telegram(const bot::testing::FakeTelegram::Call& call) {
        if (call.method != "sendMessage" || call.failed_with != 0) return;
        std::int64_t chat = 0;
        if (auto it = call.params.find("chat_id"); it != call.params.end()) {
            if (it->is_number_integer()) chat = it->get<std::int64_t>();
            if (it->is_string()) chat = std::atoll(it->get<std::string>().c_str());
        }
        const std::string text = call.params.value("text", "");
        std::lock_guard lock(mutex_);
        const auto user = static_cast<int>(chat - kFirstChat);
        if (user < 0 || user >= spec_.telegram_users) {
            ++unexpected_;
            return;
        }
        int k = -1;
        if (auto said = parse_echo(text); said && said->path == 't' && said->user == user) {
            k = said->k;
        } else if (is_apology(text)) {
            // Apologies name no message; a user waits for one reply at a time, so this is it.
            k = telegram_waiting_[static_cast<std::size_t>(user)];
        }
        if (k < 0) {
            ++unexpected_;
            return;
        }
        auto& fate = fates_[{'t', user, k}];
        ++fate.deliveries;
        fate.texts.insert(text);
        changed_.notify_all();
    }

    void retried(char path) {
        std::lock_guard lock(mutex_);
        ++retries_[path];
    }
    void unexpected() {
        std::lock_guard lock(mutex_);
        ++unexpected_;
    }

    std::map<char, Tally> tally() const {
        std::lock_guard lock(mutex_);
        std::map<char, Tally> tallies;
        for (const auto& [key, fate] : fates_) {
            auto [path, user, k] = key;
            auto& t = tallies[path];
            ++t.sent;
            bool answered = path == 't' ? fate.deliveries > 0 : !fate.texts.empty();
            bool twice = path == 't' ? fate.deliveries > 1
                                     : fate.texts.size() > 1 || fate.history_copies > 1;
            bool apology = false;
            for (const auto& text : fate.texts) apology = apology || is_apology(text);
            answered ? ++t.answered : ++t.lost;
            if (apology) ++t.apologies;
            if (twice) ++t.twice;
            if ((!answered || twice) && t.examples.size() < 10) {
                std::string example = message_text(path, user, k);
                example.append(answered ? ": answered twice (" : ": lost");
                if (answered) {
                    example.append(std::to_string(fate.deliveries))
                        .append(" deliveries, ")
                        .append(std::to_string(fate.history_copies))
                        .append(" copies in history):");
                    for (const auto& text : fate.texts)
                        example.append(" [").append(text).append("]");
                }
                t.examples.push_back(std::move(example));
            }
        }
        return tallies;
    }
    std::uint64_t retries(char path) const {
        std::lock_guard lock(mutex_);
        auto it = retries_.find(path);
        return it == retries_.end() ? 0 : it->second;
    }
    std::uint64_t unexpected_count() const {
        std::lock_guard lock(mutex_);
        return unexpected_;
    }

private:
    bool has_answer_locked(char path, int user, int k) const {
        auto it = fates_.find({path, user, k});
        if (it == fates_.end()) return false;
        return path == 't' ? it->second.deliveries > 0 : !it->second.texts.empty();
    }

    const ChaosSpec spec_;
    const std::uint16_t port_;
    std::atomic<bool> abort_{false};
    Clock::time_point load_end_;
    Clock::time_point drain_end_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::tuple<char, int, int>, Fate> fates_;
    std::vector<int> telegram_waiting_;  // per Telegram user: the message awaiting its reply
    std::map<char, std::uint64_t> retries_;
    std::uint64_t unexpected_ = 0;
};

}  // namespace bench::chaos
