#include "bench/chaos.hpp"

#include "bench/chaos_ledger.hpp"
#include "bench/chaos_users.hpp"
#include "bench/server_process.hpp"
#include "fakes/fake_llm.hpp"
#include "fakes/fake_telegram.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <thread>
#include <vector>

namespace bench {

namespace {

namespace testing = bot::testing;
using namespace chaos;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kApiAdapter = "api";
constexpr const char* kWebchatAdapter = "web";
constexpr auto kLlmTimeout = 5s;  // the provider's timeout_s
constexpr auto kLlmHang = 10s;    // an injected timeout: no answer for this long

// Telegram by webhook (no live drafts: one sendMessage per reply), http_api and the web chat,
// with an LLM provider that retries twice and gives up on an answer after 5 s.
std::string chaos_config(const ServerSettings& settings) {
    json config = json::parse(make_config(settings));
    config["adapters"][kApiAdapter] = {
        {"type", "http_api"}, {"token", kApiToken}, {"reply_timeout_s", 60}};
    // Every generated page is one user on one address: the per-minute limit is not under test.
    config["adapters"][kWebchatAdapter] = {{"type", "webchat"},
                                           {"messages_per_minute", 100000},
                                           {"messages_per_minute_per_address", 1000000},
                                           {"history_turns", 1000}};
    auto& provider = config["llm"]["providers"]["fake"];
    provider["timeout_s"] = kLlmTimeout.count();
    provider["retries"] = 2;
    return config.dump(2);
}

// The server's memory at a minute mark, and the range of its 1 s samples over that minute.
struct MinuteSample {
    int minute;
    long rss_kb;
    long anon_kb;  // RssAnon: the heap; the rest is the binary, libraries and SQLite's shm
    long low_kb;
    long high_kb;
    double process_age_s;
};

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

void print_report(std::ostream& out, const ChaosSpec& spec, const Ledger& ledger, int restarts,
                  const testing::FakeLlm& llm, const testing::FakeTelegram& telegram,
                  const std::vector<MinuteSample>& minutes, bool markdown) {
    auto tallies = ledger.tally();
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
                << ledger.retries(path) << " |\n";
        } else {
            out << std::left << std::setw(20) << path_name(path) << std::right << std::setw(7)
                << users << std::setw(8) << t.sent << std::setw(10) << t.answered << std::setw(11)
                << t.apologies << std::setw(7) << t.lost << std::setw(7) << t.twice << std::setw(9)
                << ledger.retries(path) << "\n";
        }
    }
    out << "\nunattributable replies at the fakes: " << ledger.unexpected_count() << "\n";
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
    Ledger ledger(spec, port);  // outlives the fakes: the Bot API's thread reports into it
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
        [&ledger](const testing::FakeTelegram::Call& call) { ledger.on_telegram(call); });

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
        ledger.start();
        auto started = Clock::now();
        for (int u = 0; u < spec.telegram_users; ++u)
            users.emplace_back([&ledger, &spec, u] { telegram_user(ledger, spec, u); });
        for (int u = 0; u < spec.api_users; ++u)
            users.emplace_back([&ledger, &spec, u] { api_user(ledger, spec, u); });
        for (int u = 0; u < spec.webchat_users; ++u)
            users.emplace_back([&ledger, &spec, u] { webchat_user(ledger, spec, u); });

        auto next_minute = started + 60s;
        auto next_kill = started + spec.kill_every;
        long low_kb = 0;
        long high_kb = 0;
        while (Clock::now() < ledger.load_end()) {
            std::this_thread::sleep_for(1s);
            auto now = Clock::now();
            auto stats = read_proc_stats(server->pid());
            low_kb = low_kb == 0 ? stats.rss_kb : std::min(low_kb, stats.rss_kb);
            high_kb = std::max(high_kb, stats.rss_kb);
            // A minute's last sample: the last minute's then comes before the load ends and the
            // users start sending every id again (a burst of its own).
            if (now + 1s >= next_minute) {
                minutes.push_back({static_cast<int>(minutes.size()) + 1, stats.rss_kb,
                                   stats.anon_kb, low_kb, high_kb,
                                   std::chrono::duration<double>(now - born).count()});
                low_kb = high_kb = 0;
                next_minute += 60s;
            }
            if (now >= next_kill && now < ledger.load_end()) {
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
        ledger.wait_for_every_telegram_reply();
        std::this_thread::sleep_for(2s);  // stray second deliveries would show now
        server->stop(30s);
    } catch (const std::exception& error) {
        std::cerr << "chaos: FAILED: " << error.what() << "\n";
        ledger.abort();
        ran = false;
    }
    users.clear();  // joins
    telegram.on_call(nullptr);

    print_report(out, spec, ledger, restarts, llm, telegram, minutes, markdown);
    bool clean = ran;
    for (const auto& [path, tally] : ledger.tally())
        clean = clean && tally.lost == 0 && tally.twice == 0;
    if (!clean || spec.keep) {
        dir.keep();
        std::cerr << "chaos: kept " << dir.path().string() << " (server.log, bot.db)\n";
    }
    return clean;
}

}  // namespace bench
