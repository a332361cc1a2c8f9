#include "bench/chaos.hpp"

#include "bench/server_process.hpp"
#include "fakes/fake_llm.hpp"
#include "fakes/fake_telegram.hpp"
#include "fakes/test_http.hpp"
#include "fakes/ws_client.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

namespace bench {

namespace {

namespace testing = bot::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kApiAdapter = "api";
constexpr const char* kWebchatAdapter = "web";
constexpr std::int64_t kFirstChat = 7'000'000;  // Telegram chat (and sender) id of user 0
constexpr auto kLlmTimeout = 5s;                // the provider's timeout_s
constexpr auto kLlmHang = 10s;                  // an injected timeout: no answer for this long
constexpr auto kTelegramReplyWait = 150s;       // a Telegram user then sends its next message

// Telegram by webhook (no live drafts: one sendMessage per reply), http_api and the web chat,
// with an LLM provider that retries twice and gives up on an answer after 5 s.
std::string chaos_config(const ServerSettings& settings) {
    json config = json::parse(make_config(settings));
    config["adapters"][kApiAdapter] = {
        {"type", "http_api"}, {"token", kApiToken}, {"reply_timeout_s", 60}};
    // Every generated page is one user on one address: the per-minute limit is not under test.
    config["adapters"][kWebchatAdapter] = {
        {"type", "webchat"}, {"messages_per_minute", 100000}, {"history_turns", 1000}};
    auto& provider = config["llm"]["providers"]["fake"];
    provider["timeout_s"] = kLlmTimeout.count();
    provider["retries"] = 2;
    return config.dump(2);
}

// What users send: "<path letter><user> m<k>"; the fake LLM answers "echo: <that> #<call>", so
// two answers to one message differ even when the text does.
std::string message_text(char path, int user, int k) {
    return std::string(1, path).append(std::to_string(user)).append(" m").append(std::to_string(k));
}

struct Said {
    char path;
    int user;
    int k;
};

std::optional<Said> parse_echo(std::string_view text) {
    constexpr std::string_view prefix = "echo: ";
    if (!text.starts_with(prefix) || text.size() < prefix.size() + 2) return std::nullopt;
    Said said{text[prefix.size()], 0, 0};
    const char* p = text.data() + prefix.size() + 1;
    const char* end = text.data() + text.size();
    auto [after_user, e1] = std::from_chars(p, end, said.user);
    if (e1 != std::errc{} || end - after_user < 3 || std::string_view(after_user, 2) != " m")
        return std::nullopt;
    auto [after_k, e2] = std::from_chars(after_user + 2, end, said.k);
    if (e2 != std::errc{} || !std::string_view(after_k, end - after_k).starts_with(" #"))
        return std::nullopt;
    return said;
}

bool is_apology(std::string_view text) {
    return text.starts_with("Sorry, ");
}

std::optional<int> id_number(std::string_view id) {  // "m<k>" -> k
    int k = 0;
    if (!id.starts_with("m")) return std::nullopt;
    auto [end, error] = std::from_chars(id.data() + 1, id.data() + id.size(), k);
    if (error != std::errc{} || end != id.data() + id.size()) return std::nullopt;
    return k;
}

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

// The server's memory at a minute mark, and the range of its 1 s samples over that minute.
struct MinuteSample {
    int minute;
    long rss_kb;
    long anon_kb;  // RssAnon: the heap; the rest is the binary, libraries and SQLite's shm
    long low_kb;
    long high_kb;
    double process_age_s;
};

// State shared by the user threads, the fake Bot API's thread and the conductor.
class Chaos {
public:
    Chaos(const ChaosSpec& spec, std::uint16_t port) : spec_(spec), port_(port) {
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
    void on_telegram(const testing::FakeTelegram::Call& call) {
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

void think(const ChaosSpec& spec, std::mt19937& random) {
    auto most = static_cast<int>(spec.think.count());
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, most)(random)));
}

void back_off(int attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250 * std::min(attempt, 8)));
}

// POSTs until the server answers 200 (as a platform redelivers) or the scenario ends.
std::optional<testing::TestResponse> post_until_ok(Chaos& chaos, char path, const std::string& url,
                                                   const std::string& body,
                                                   const std::vector<std::string>& headers,
                                                   long timeout_ms) {
    for (int attempt = 1; !chaos.over(); ++attempt) {
        try {
            auto response = testing::http_request("POST", url, body, headers, timeout_ms);
            if (response.status == 200) return response;
        } catch (const std::exception&) {
            // refused (the server is down) or cut off (killed mid-request): send it again
        }
        chaos.retried(path);
        back_off(attempt);
    }
    return std::nullopt;
}

void telegram_user(Chaos& chaos, const ChaosSpec& spec, int user) {
    std::mt19937 random(1000 + static_cast<std::uint32_t>(user));
    const std::string url = chaos.base_url() + "/telegram/" + kTelegramAdapter;
    const std::vector<std::string> headers{
        "Content-Type: application/json",
        std::string("X-Telegram-Bot-Api-Secret-Token: ").append(kSecretToken)};
    const std::int64_t chat = kFirstChat + user;
    for (int k = 0; chaos.loading(); ++k) {
        // Update ids only grow, per bot; users take them from disjoint ranges.
        const std::int64_t update_id = std::int64_t{user} * 1'000'000 + k + 1;
        json update = {{"update_id", update_id},
                       {"message",
                        {{"message_id", k + 1},
                         {"date", 1700000000},
                         {"chat", {{"id", chat}, {"type", "private"}}},
                         {"from", {{"id", chat}, {"is_bot", false}, {"first_name", "T"}}},
                         {"text", message_text('t', user, k)}}}};
        chaos.sending('t', user, k);
        if (!post_until_ok(chaos, 't', url, update.dump(), headers, 15000)) return;
        chaos.wait_for_telegram(user, k, kTelegramReplyWait);
        think(spec, random);
    }
}

void api_user(Chaos& chaos, const ChaosSpec& spec, int user) {
    std::mt19937 random(2000 + static_cast<std::uint32_t>(user));
    const std::string url = chaos.base_url() + "/api/v1/messages";
    const std::vector<std::string> headers{"Content-Type: application/json",
                                           std::string("Authorization: Bearer ").append(kApiToken)};
    auto ask = [&](int k) {
        json body = {{"user", "a" + std::to_string(user)},
                     {"message_id", "m" + std::to_string(k)},
                     {"text", message_text('a', user, k)}};
        auto response = post_until_ok(chaos, 'a', url, body.dump(), headers, 75000);
        if (!response) return false;
        auto answer = json::parse(response->body, nullptr, false);
        if (!answer.is_object() || !answer.contains("reply") || !answer["reply"].is_string()) {
            chaos.unexpected();
            return false;
        }
        chaos.answered('a', user, k, answer["reply"].get<std::string>());
        return true;
    };
    int sent = 0;
    for (; chaos.loading(); ++sent) {
        chaos.sending('a', user, sent);
        if (!ask(sent)) return;
        think(spec, random);
    }
    // Once more with every id, as a client unsure of its earlier tries: a stored answer comes
    // back; a different one would be a second answer.
    for (int k = 0; k < sent && !chaos.over(); ++k) ask(k);
}

// A web chat page of one user: reconnects when its socket drops, reads the history it gets
// on connecting, and sends again what has no answer there.
class WebchatPage {
public:
    WebchatPage(Chaos& chaos, int user) : chaos_(chaos), user_(user) {
        char hex[33];
        std::snprintf(hex, sizeof hex, "%016x%016x", 0xC4A05u, static_cast<unsigned>(user));
        identity_ = hex;
        origin_ = chaos.base_url();
    }

    // True when message k got its answer (in a done frame or in the history).
    bool send(int k) {
        const std::string text = message_text('w', user_, k);
        const std::string id = "m" + std::to_string(k);
        while (!chaos_.over()) {
            if (!socket_) {
                if (!connect()) return false;
                read_history();
                if (chaos_.has_answer('w', user_, k)) return true;
            }
            try {
                socket_->send(json{{"type", "message"}, {"id", id}, {"text", text}});
            } catch (const std::exception&) {
                drop();
                continue;
            }
            if (await_done(k)) return true;
        }
        return false;
    }

    // After the load: the stored history (each message once) and every id sent again.
    void verify(int sent) {
        drop();
        if (!connect()) return;
        read_history(true);
        for (int k = 0; k < sent && !chaos_.over(); ++k) send(k);
    }

private:
    bool connect() {
        for (int attempt = 1; !chaos_.over(); ++attempt) {
            try {
                socket_ =
                    std::make_unique<testing::WsClient>(chaos_.port(), "/webchat/ws", origin_);
                socket_->send(json{{"type", "hello"}, {"user", identity_}});
                while (auto frame = socket_->next(10s)) {
                    if (frame->value("type", "") != "ready") continue;
                    history_ = (*frame)["history"];
                    return true;
                }
            } catch (const std::exception&) {
                // the server is down or went down during the handshake
            }
            socket_.reset();
            chaos_.retried('w');
            back_off(attempt);
        }
        return false;
    }

    // The history's user turns and the replies that follow them count as answers.
    void read_history(bool count_copies = false) {
        if (!history_.is_array()) return;
        for (std::size_t i = 0; i < history_.size(); ++i) {
            const auto& turn = history_[i];
            if (turn.value("role", "") != "user") continue;
            const std::string said = turn.value("text", "");
            std::string prefix = "w" + std::to_string(user_) + " m";
            int k = 0;
            if (!said.starts_with(prefix)) continue;
            auto [end, error] =
                std::from_chars(said.data() + prefix.size(), said.data() + said.size(), k);
            if (error != std::errc{} || end != said.data() + said.size()) continue;
            std::string reply;
            if (i + 1 < history_.size() && history_[i + 1].value("role", "") == "assistant")
                reply = history_[i + 1].value("text", "");
            if (count_copies) {
                chaos_.in_history(user_, k, reply);
            } else if (!reply.empty()) {
                chaos_.answered('w', user_, k, reply);
            }
        }
    }

    // Reads frames until message k's done (true), or the socket fails (false, dropped).
    bool await_done(int k) {
        for (;;) {
            std::optional<json> frame;
            try {
                frame = socket_->next(30s);
            } catch (const std::exception&) {
                frame.reset();
            }
            if (!frame) {
                drop();
                return false;
            }
            const std::string type = frame->value("type", "");
            if (type == "done") {
                auto done_k = id_number(frame->value("id", ""));
                if (!done_k) {
                    chaos_.unexpected();
                    continue;
                }
                chaos_.answered('w', user_, *done_k, frame->value("text", ""));
                if (*done_k == k) return true;
            } else if (type == "error") {
                const std::string code = frame->value("code", "");
                if (code == "not_ready") continue;  // the done follows
                if (code != "rate_limited") chaos_.unexpected();
                std::this_thread::sleep_for(1s);
                return false;  // sent again
            }
        }
    }

    void drop() { socket_.reset(); }

    Chaos& chaos_;
    const int user_;
    std::string identity_;
    std::string origin_;
    std::unique_ptr<testing::WsClient> socket_;
    json history_;
};

void webchat_user(Chaos& chaos, const ChaosSpec& spec, int user) {
    std::mt19937 random(3000 + static_cast<std::uint32_t>(user));
    WebchatPage page(chaos, user);
    int sent = 0;
    for (; chaos.loading(); ++sent) {
        chaos.sending('w', user, sent);
        if (!page.send(sent)) return;
        think(spec, random);
    }
    page.verify(sent);
}

const char* path_name(char path) {
    switch (path) {
        case 't':
            return "telegram (webhook)";
        case 'a':
            return "http_api";
        default:
            return "webchat";
    }
}

void print_report(std::ostream& out, const ChaosSpec& spec, const Chaos& chaos, int restarts,
                  const testing::FakeLlm& llm, const testing::FakeTelegram& telegram,
                  const std::vector<MinuteSample>& minutes, bool markdown) {
    auto tallies = chaos.tally();
    out << "Chaos: " << spec.duration.count() << " s of load, SIGKILL and restart every "
        << spec.kill_every.count() << " s (" << restarts << " restarts); the fake LLM failed "
        << llm.failures_injected() << " of " << llm.request_count() << " calls, the fake Telegram "
        << "API " << telegram.failures_injected() << " of its calls\n\n";
    const char* sep = markdown ? " | " : "  ";
    if (markdown) {
        out << "| path | users | sent | answered | of them apologies | lost | answered twice | "
               "client retries |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    } else {
        out << std::left << std::setw(20) << "path" << std::right << std::setw(7) << "users"
            << std::setw(8) << "sent" << std::setw(10) << "answered" << std::setw(11) << "apologies"
            << std::setw(7) << "lost" << std::setw(7) << "twice" << std::setw(9) << "retries"
            << "\n";
    }
    for (char path : {'t', 'a', 'w'}) {
        const Tally& t = tallies[path];
        int users =
            path == 't' ? spec.telegram_users : (path == 'a' ? spec.api_users : spec.webchat_users);
        if (markdown) {
            out << "| " << path_name(path) << sep << users << sep << t.sent << sep << t.answered
                << sep << t.apologies << sep << t.lost << sep << t.twice << sep
                << chaos.retries(path) << " |\n";
        } else {
            out << std::left << std::setw(20) << path_name(path) << std::right << std::setw(7)
                << users << std::setw(8) << t.sent << std::setw(10) << t.answered << std::setw(11)
                << t.apologies << std::setw(7) << t.lost << std::setw(7) << t.twice << std::setw(9)
                << chaos.retries(path) << "\n";
        }
    }
    out << "\nunattributable replies at the fakes: " << chaos.unexpected_count() << "\n";
    for (char path : {'t', 'a', 'w'})
        for (const auto& example : tallies[path].examples) out << "  " << example << "\n";

    out << "\nServer RSS at each minute (the process restarts every " << spec.kill_every.count()
        << " s)\n\n";
    if (markdown) {
        out << "| minute | RSS (MB) | of it anonymous (MB) | RSS over the minute (MB) | process "
               "age (s) |\n|---:|---:|---:|---:|---:|\n";
    }
    auto mb = [](long kb) { return kb / 1024.0; };
    out << std::fixed << std::setprecision(1);
    for (const auto& sample : minutes) {
        const auto age = static_cast<long>(sample.process_age_s);
        if (markdown) {
            out << "| " << sample.minute << sep << mb(sample.rss_kb) << sep << mb(sample.anon_kb)
                << sep << mb(sample.low_kb) << "–" << mb(sample.high_kb) << sep << age << " |\n";
        } else {
            out << "  minute " << std::setw(3) << sample.minute << ": " << std::setw(6)
                << mb(sample.rss_kb) << " MB (anonymous " << mb(sample.anon_kb)
                << ", over the minute " << mb(sample.low_kb) << "–" << mb(sample.high_kb)
                << "; process age " << age << " s)\n";
        }
    }
    out << std::defaultfloat << "\n";
}

}  // namespace

bool run_chaos(const std::string& server_binary, const ChaosSpec& spec, bool markdown,
               std::ostream& out) {
    WorkDir dir;
    const std::uint16_t port = free_port();
    Chaos chaos(spec, port);  // outlives the fakes: the Bot API's thread reports into it
    std::atomic<std::uint64_t> llm_calls{0};
    testing::FakeLlm llm;
    llm.record(false);
    llm.reply_delay(300ms);
    llm.reply_with([&llm_calls](const json& request) {
        std::string last;
        for (const auto& message : request.value("messages", json::array()))
            if (message.value("role", "") == "user") last = message.value("content", "");
        return "echo: " + last + " #" + std::to_string(++llm_calls);
    });
    llm.fail_randomly(spec.llm_failures, kLlmHang, 7);
    testing::FakeTelegram telegram;
    telegram.record(false);
    telegram.fail_randomly(spec.platform_failures, 11);
    telegram.on_call(
        [&chaos](const testing::FakeTelegram::Call& call) { chaos.on_telegram(call); });

    ServerSettings settings{.dir = dir.path(),
                            .port = port,
                            .threads = spec.server_threads,
                            .path = Path::telegram,
                            .llm_base_url = llm.base_url(),
                            .telegram_api_base = telegram.api_base(),
                            .telegram_token = telegram.token()};
    settings.config_json = chaos_config(settings);
    std::cerr << "chaos: work dir " << dir.path().string() << ", port " << port << "\n";

    std::vector<MinuteSample> minutes;
    int restarts = 0;
    bool ran = true;
    std::vector<std::jthread> users;
    try {
        auto server = std::make_unique<ServerProcess>(server_binary, settings);
        server->wait_ready(60s);
        auto born = Clock::now();
        chaos.start();
        auto started = Clock::now();
        for (int u = 0; u < spec.telegram_users; ++u)
            users.emplace_back([&chaos, &spec, u] { telegram_user(chaos, spec, u); });
        for (int u = 0; u < spec.api_users; ++u)
            users.emplace_back([&chaos, &spec, u] { api_user(chaos, spec, u); });
        for (int u = 0; u < spec.webchat_users; ++u)
            users.emplace_back([&chaos, &spec, u] { webchat_user(chaos, spec, u); });

        auto next_minute = started + 60s;
        auto next_kill = started + spec.kill_every;
        long low_kb = 0;
        long high_kb = 0;
        while (Clock::now() < chaos.load_end()) {
            std::this_thread::sleep_for(1s);
            auto now = Clock::now();
            auto stats = read_proc_stats(server->pid());
            low_kb = low_kb == 0 ? stats.rss_kb : std::min(low_kb, stats.rss_kb);
            high_kb = std::max(high_kb, stats.rss_kb);
            if (now >= next_minute) {
                minutes.push_back({static_cast<int>(minutes.size()) + 1, stats.rss_kb,
                                   stats.anon_kb, low_kb, high_kb,
                                   std::chrono::duration<double>(now - born).count()});
                low_kb = high_kb = 0;
                next_minute += 60s;
            }
            if (now >= next_kill && now < chaos.load_end()) {
                server->kill();
                ++restarts;
                std::cerr << "chaos: killed the server (" << restarts << "), restarting\n";
                server = std::make_unique<ServerProcess>(server_binary, settings);
                server->wait_ready(60s);
                born = Clock::now();
                next_kill += spec.kill_every;
            }
        }
        std::cerr << "chaos: load over, draining\n";
        for (auto& user : users) user.join();
        chaos.wait_for_every_telegram_reply();
        std::this_thread::sleep_for(2s);  // stray second deliveries would show now
        server->stop(30s);
    } catch (const std::exception& error) {
        std::cerr << "chaos: FAILED: " << error.what() << "\n";
        chaos.abort();
        ran = false;
    }
    users.clear();  // joins
    telegram.on_call(nullptr);

    print_report(out, spec, chaos, restarts, llm, telegram, minutes, markdown);
    bool clean = ran;
    for (const auto& [path, tally] : chaos.tally())
        clean = clean && tally.lost == 0 && tally.twice == 0;
    if (!clean || spec.keep) {
        dir.keep();
        std::cerr << "chaos: kept " << dir.path().string() << " (server.log, bot.db)\n";
    }
    return clean;
}

}  // namespace bench
