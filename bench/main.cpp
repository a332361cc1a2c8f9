// contactbot_bench: starts a fake LLM, a fake Telegram Bot API and the real contactbot binary,
// plays users against it through the Telegram webhook and the http_api adapter, and prints
// throughput, reply latency, memory, threads and CPU per scale point. See bench/README.md.
#include "bench/chaos.hpp"
#include "bench/ilink_bench.hpp"
#include "bench/load.hpp"
#include "bench/memory_return.hpp"
#include "bench/report.hpp"
#include "bench/server_process.hpp"
#include "fakes/fake_dingtalk.hpp"
#include "fakes/fake_discord.hpp"
#include "fakes/fake_feishu.hpp"
#include "fakes/fake_llm.hpp"
#include "fakes/fake_onebot.hpp"
#include "fakes/fake_slack.hpp"
#include "fakes/fake_telegram.hpp"

#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <memory>

namespace {

using namespace bench;
namespace fs = std::filesystem;

// LLM calls in flight at once during the throughput runs. The default (64) suits a hosted API's
// rate limit; an instant self-hosted model takes as many as the load offers, and with 64 the
// figures would measure the queue in front of the LLM, not contactbot.
constexpr int kThroughputLlmConcurrency = 1000;

struct Settings {
    std::string scenario = "all";
    std::string path = "both";
    std::vector<int> users{1, 10, 100, 1000, 10000};
    int messages = 0;     // per user; 0 = by scale
    int concurrency = 0;  // 0 = min(users, 1000)
    int llm_concurrency = kThroughputLlmConcurrency;
    int llm_delay_ms = 0;
    int inflight = 10000;
    int inflight_delay_ms = 2000;
    IlinkSpec ilink;
    ChaosSpec chaos;
    BurstSpec burst;
    int server_threads = 0;
    int reply_timeout_s = 60;
    bool stream = false;  // throughput: replies stream to the user (in flight always stream)
    // "on": long-term memory as by default; "summaries": also a summary every 8 turns; "off": none
    std::string memory = "on";
    bool quick = false;
    bool markdown = false;
    bool keep = false;
    std::string server = CONTACTBOT_BINARY;
};

struct Spec {
    Path path;
    int users;
    int messages;
    int connections;
    int in_flight;
    int llm_delay_ms;
    int llm_concurrency;  // the provider's max_concurrency; 0 = contactbot's default (64)
    bool stream;          // the user watches the reply grow, so the LLM streams it
};

// Enough messages for steady figures, few enough that 10,000 users take seconds, not minutes.
// Longer conversations cost more per message (history up to bot.history_turns is loaded and
// sent), so the small scales with many messages per user are not cheaper than they look.
int default_messages(int users) {
    if (users <= 1) return 500;
    if (users <= 10) return 200;
    if (users <= 100) return 100;
    if (users <= 1000) return 20;
    return 3;
}

// Soft limit up to the hard one: thousands of connections on each side of loopback. The server
// inherits it. Returns the limit now in force.
long long raise_file_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
    constexpr long long kPlenty = 1LL << 30;
    return limit.rlim_cur == RLIM_INFINITY
               ? kPlenty
               : static_cast<long long>(std::min<rlim_t>(limit.rlim_cur, kPlenty));
}

std::int64_t chat_id_param(const nlohmann::json& params) {
    auto it = params.find("chat_id");
    if (it == params.end()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_string()) return std::atoll(it->get<std::string>().c_str());
    return 0;
}

Point run_point(const Settings& settings, const Spec& spec) {
    Point point;
    point.path = spec.path;
    point.users = spec.users;
    point.messages = spec.messages;
    point.connections = spec.connections;
    point.llm_delay_ms = spec.llm_delay_ms;
    std::cerr << "bench: " << to_string(spec.path) << " users=" << spec.users
              << " msgs/user=" << spec.messages << " conns=" << spec.connections
              << " in_flight=" << spec.in_flight << " llm_delay_ms=" << spec.llm_delay_ms
              << (spec.stream ? " streamed" : "") << "\n";

    WorkDir dir;
    std::unique_ptr<Load> load;  // outlives the fakes: their threads report into it
    try {
        bot::testing::FakeLlm llm;
        llm.record(false);
        llm.reply_delay(std::chrono::milliseconds(spec.llm_delay_ms));
        bot::testing::FakeTelegram telegram;
        telegram.record(false);
        bot::testing::FakeOneBot qq(kOnebotSelfId);
        qq.record(false);
        bot::testing::FakeFeishu feishu;
        feishu.record(false);
        bot::testing::FakeDingtalk dingtalk(kDingtalkClientId, kSecretToken);
        dingtalk.record(false);
        bot::testing::FakeSlack slack(kSlackBotToken, kSlackAppToken, kSecretToken);
        slack.record(false);
        bot::testing::FakeDiscord discord;
        discord.record(false);

        ServerSettings server_settings{.dir = dir.path(),
                                       .port = free_port(),
                                       .threads = settings.server_threads,
                                       .path = spec.path,
                                       .llm_base_url = llm.base_url(),
                                       .telegram_api_base = telegram.api_base(),
                                       .telegram_token = telegram.token(),
                                       .feishu_domain = feishu.base_url(),
                                       .dingtalk_api_base = dingtalk.api_base(),
                                       .slack_api_base = slack.api_base(),
                                       .discord_api_base = discord.api_base(),
                                       .llm_concurrency = spec.llm_concurrency,
                                       .stream = spec.stream,
                                       .memory = settings.memory != "off",
                                       .summary_every_8_turns = settings.memory == "summaries"};
        ServerProcess server(settings.server, server_settings);
        server.wait_ready(std::chrono::seconds(30));
        std::cerr << "bench:   contactbot pid " << server.pid() << " on port "
                  << server_settings.port << ", work dir " << dir.path().string() << "\n";
        if (spec.path == Path::telegram && !telegram.wait_for("setWebhook", 1)) {
            std::cerr << "bench:   note: contactbot did not call setWebhook\n";
        }
        if (spec.path == Path::onebot) {
            auto route = std::string("/onebot/").append(kOnebotAdapter);
            if (int status = qq.connect(server_settings.port, route, kSecretToken); status != 101)
                throw std::runtime_error("the fake OneBot's upgrade got " + std::to_string(status));
        }
        if (spec.path == Path::feishu && !feishu.wait_connections(1, std::chrono::seconds(30)))
            throw std::runtime_error("contactbot did not open Feishu's long connection");
        if (spec.path == Path::dingtalk && !dingtalk.wait_connections(1, std::chrono::seconds(30)))
            throw std::runtime_error("contactbot did not open the DingTalk Stream connection");
        if (spec.path == Path::slack && !slack.wait_connections(1, std::chrono::seconds(30)))
            throw std::runtime_error("contactbot did not open the Slack Socket Mode connection");
        if (spec.path == Path::discord && !discord.wait_sessions(1, std::chrono::seconds(30)))
            throw std::runtime_error("contactbot did not identify on the Discord gateway");
        auto post_frame = [&](std::string frame) {
            if (spec.path == Path::feishu) return feishu.push_payload(std::move(frame));
            if (spec.path == Path::dingtalk) return !dingtalk.push_data(frame).empty();
            if (spec.path == Path::slack) return !slack.push_text(frame).empty();
            if (spec.path == Path::discord) return discord.dispatch_raw(frame);
            return qq.post_text(frame);
        };

        load = std::make_unique<Load>(
            LoadPlan{.path = spec.path,
                     .users = spec.users,
                     .messages = spec.messages,
                     .connections = spec.connections,
                     .in_flight = spec.in_flight,
                     .port = server_settings.port,
                     .api_token = kApiToken,
                     .webhook_path = std::string("/telegram/").append(kTelegramAdapter),
                     .secret_token = kSecretToken,
                     .stream = spec.stream,
                     .reply_timeout = std::chrono::seconds(settings.reply_timeout_s),
                     .post_frame = post_frame,
                     .dingtalk_webhook_base = dingtalk.webhook_url("")});
        feishu.on_reply(
            [sink = load.get()](const std::string& message_id, const std::string& text) {
                // "om_<chat>_<n>" (Load::feishu_event)
                auto end = message_id.find('_', 3);
                if (end == std::string::npos) return;
                sink->on_send_message(std::stoll(message_id.substr(3, end - 3)), text);
            });
        // Replies go to the DM channel, which is the user's chat id (Load::discord_event).
        discord.on_reply([sink = load.get()](const std::string& channel, const std::string& text) {
            std::int64_t chat = 0;
            std::from_chars(channel.data(), channel.data() + channel.size(), chat);
            sink->on_send_message(chat, text);
        });
        telegram.on_call([sink = load.get()](const bot::testing::FakeTelegram::Call& call) {
            if (call.method != "sendMessage") return;
            sink->on_send_message(chat_id_param(call.params), call.params.value("text", ""));
        });
        qq.on_action([sink = load.get()](const nlohmann::json& action) {
            const auto& params = action.value("params", nlohmann::json::object());
            std::string text;
            for (const auto& segment : params.value("message", nlohmann::json::array()))
                if (segment.value("type", "") == "text")
                    text += segment.value("data", nlohmann::json::object()).value("text", "");
            sink->on_send_message(params.value("user_id", std::int64_t{0}), text);
        });
        // Replies reach the fake's session webhook "s-cid-1on1-<staff id>" (or batchSend's
        // "<staff id>"); the staff id is the user's chat id.
        dingtalk.on_sent([sink = load.get()](const bot::testing::FakeDingtalk::Sent& sent) {
            auto digits = sent.target.substr(sent.target.find_last_of('-') + 1);
            std::int64_t chat = 0;
            std::from_chars(digits.data(), digits.data() + digits.size(), chat);
            sink->on_send_message(chat, sent.text);
        });

        // Replies go to the DM channel "D<chat id>" (Load::slack_event).
        slack.on_message([sink = load.get()](const bot::testing::FakeSlack::Message& message) {
            std::int64_t chat = 0;
            std::from_chars(message.channel.data() + 1,
                            message.channel.data() + message.channel.size(), chat);
            sink->on_send_message(chat, message.text);
        });

        {
            Sampler sampler(server.pid());
            auto before = read_proc_stats(server.pid());
            double own_before = own_cpu_seconds();
            point.load = load->run();
            auto after = read_proc_stats(server.pid());
            point.server_cpu_s = after.cpu_s - before.cpu_s;
            point.server_kernel_cpu_s = after.kernel_cpu_s - before.kernel_cpu_s;
            point.bench_cpu_s = own_cpu_seconds() - own_before;
            point.peak_rss_kb = after.hwm_kb;
            point.peak_threads = std::max(sampler.peak_threads(), after.threads);
        }
        point.llm_peak_in_flight = llm.peak_in_flight();
        point.exit_status = server.stop(std::chrono::seconds(30));
        if (point.exit_status != 0) {
            std::cerr << "bench:   contactbot exit status " << point.exit_status << ":\n"
                      << server.log_tail();
        }
        telegram.on_call(nullptr);
        qq.on_action(nullptr);
        feishu.on_reply(nullptr);
        dingtalk.on_sent(nullptr);
        slack.on_message(nullptr);
        discord.on_reply(nullptr);
    } catch (const std::exception& error) {
        point.failure = error.what();
        std::cerr << "bench:   FAILED: " << error.what() << "\n";
    }
    if (!point.ok() || settings.keep) {
        dir.keep();
        std::cerr << "bench:   kept " << dir.path().string() << " (server.log, contactbot.json)\n";
    }
    std::cerr << "bench:   " << point.load.replied << "/" << point.load.messages << " replied in "
              << point.load.seconds << " s, lost " << point.load.lost << ", dup "
              << point.load.duplicated << ", unexpected " << point.load.unexpected << ", late "
              << point.load.late << ", errors " << point.load.errors << "\n";
    return point;
}

std::vector<Path> paths_of(const std::string& path) {
    if (path == "telegram") return {Path::telegram};
    if (path == "http_api") return {Path::http_api};
    if (path == "onebot") return {Path::onebot};
    if (path == "telegram+onebot") return {Path::telegram, Path::onebot};
    if (path == "feishu") return {Path::feishu};
    if (path == "telegram+onebot+feishu") return {Path::telegram, Path::onebot, Path::feishu};
    if (path == "dingtalk") return {Path::dingtalk};
    if (path == "slack") return {Path::slack};
    if (path == "discord") return {Path::discord};
    if (path == "telegram+onebot+dingtalk") return {Path::telegram, Path::onebot, Path::dingtalk};
    if (path == "sockets") return {Path::telegram, Path::onebot, Path::feishu, Path::dingtalk};
    return {Path::telegram, Path::http_api};
}

}  // namespace

int main(int argc, char** argv) {
    Settings s;
    CLI::App cli{"contactbot_bench: contactbot under load on loopback"};
    cli.add_option("--ilink-accounts", s.ilink.accounts, "ilink: bound accounts")
        ->capture_default_str();
    cli.add_option("--ilink-chatting", s.ilink.chatting, "ilink: accounts that chat")
        ->capture_default_str();
    cli.add_option("--ilink-messages", s.ilink.messages, "ilink: messages per chatting account")
        ->capture_default_str();
    cli.add_option("--ilink-idle-s", s.ilink.idle_s, "ilink: idle time measured before chatting")
        ->capture_default_str();
    cli.add_option("--ilink-poll-hold-ms", s.ilink.poll_hold_ms,
                   "ilink: how long the fake parks an empty poll")
        ->capture_default_str();
    cli.add_option("--scenario", s.scenario,
                   "throughput, inflight, ilink or all; chaos and memory run only when named")
        ->check(CLI::IsMember({"throughput", "inflight", "ilink", "all", "chaos", "memory"}))
        ->capture_default_str();
    int chaos_minutes = 10;
    int chaos_kill_s = static_cast<int>(s.chaos.kill_every.count());
    cli.add_option("--burst", s.burst.kind,
                   "memory: bodies (authenticated 1 MiB POSTs), conversations (Telegram) or "
                   "websockets (web chat)")
        ->check(CLI::IsMember({"bodies", "conversations", "websockets"}))
        ->capture_default_str();
    cli.add_option("--burst-count", s.burst.count, "memory: requests or conversations at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    cli.add_option("--chaos-minutes", chaos_minutes, "chaos: minutes of load")
        ->capture_default_str()
        ->check(CLI::Range(1, 24 * 60));
    cli.add_option("--chaos-kill-s", chaos_kill_s, "chaos: SIGKILL and restart every so many s")
        ->capture_default_str()
        ->check(CLI::Range(10, 24 * 3600));
    cli.add_option("--path", s.path,
                   "telegram (webhook), http_api, both, onebot (reverse websocket), "
                   "telegram+onebot, feishu (long connection), dingtalk (Stream mode), "
                   "telegram+onebot+feishu, telegram+onebot+dingtalk, sockets (all four), slack "
                   "(Socket Mode) or discord (gateway)")
        ->check(CLI::IsMember({"telegram", "http_api", "both", "onebot", "telegram+onebot",
                               "feishu", "dingtalk", "telegram+onebot+feishu",
                               "telegram+onebot+dingtalk", "sockets", "slack", "discord"}))
        ->capture_default_str();
    cli.add_option("--users", s.users, "scale points: users per point")
        ->delimiter(',')
        ->check(CLI::Range(1, 1000000));
    cli.add_option("--messages", s.messages, "messages per user (default: by scale)")
        ->check(CLI::Range(1, 1000000));
    cli.add_option("--llm-concurrency", s.llm_concurrency,
                   "throughput: the LLM provider's max_concurrency")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    cli.add_option("--concurrency", s.concurrency,
                   "connections and messages in flight (default: min(users, 1000))")
        ->check(CLI::Range(1, 100000));
    cli.add_option("--llm-delay-ms", s.llm_delay_ms, "throughput: fake LLM time per reply")
        ->capture_default_str();
    cli.add_option("--inflight", s.inflight, "inflight: conversations at once")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    cli.add_option("--inflight-delay-ms", s.inflight_delay_ms,
                   "inflight: fake LLM time per reply, streamed")
        ->capture_default_str();
    cli.add_option("--server-threads", s.server_threads,
                   "server.threads (0 = one per core but one)")
        ->capture_default_str();
    cli.add_option("--reply-timeout-s", s.reply_timeout_s, "a later reply counts as lost")
        ->capture_default_str();
    cli.add_option("--server", s.server, "the contactbot binary")->capture_default_str();
    cli.add_option("--memory", s.memory,
                   "on: long-term memory as by default (recall, facts; a summary after 50 "
                   "exchanges); summaries: also a summary due every 8 turns; off: "
                   "memory.summary, .facts and .recall disabled")
        ->check(CLI::IsMember({"on", "summaries", "off"}))
        ->capture_default_str();
    cli.add_flag("--stream", s.stream,
                 "throughput: users watch replies grow (Telegram live drafts, http_api SSE), so "
                 "the LLM streams; otherwise replies come whole (in flight always streams)");
    cli.add_flag("--quick", s.quick, "smoke test: users 1,10, 3 messages, inflight 50");
    cli.add_flag("--markdown", s.markdown, "print Markdown tables");
    cli.add_flag("--keep", s.keep, "keep every point's work directory");
    CLI11_PARSE(cli, argc, argv);
    if (s.quick) {
        s.users = {1, 10};
        s.messages = 3;
        s.inflight = 50;
        s.inflight_delay_ms = 200;
        s.ilink = IlinkSpec{
            .accounts = 20, .chatting = 5, .messages = 2, .poll_hold_ms = 2000, .idle_s = 1};
    }
    s.ilink.server_threads = s.server_threads;
    s.chaos.duration = std::chrono::minutes(chaos_minutes);
    s.chaos.kill_every = std::chrono::seconds(chaos_kill_s);
    s.chaos.server_threads = s.server_threads;
    s.chaos.keep = s.keep;
    s.burst.server_threads = s.server_threads;
    s.burst.keep = s.keep;
    s.ilink.reply_timeout_s = s.reply_timeout_s;

    ::signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long long file_limit = raise_file_limit();
    std::cout << "contactbot_bench: server " << s.server << ", " << ::sysconf(_SC_NPROCESSORS_ONLN)
              << " cores, RLIMIT_NOFILE " << file_limit << "\n\n";

    if (s.scenario == "memory")
        return run_memory_return(s.server, s.burst, s.markdown, std::cout) ? 0 : 1;
    if (s.scenario == "chaos") {
        bool clean = run_chaos(s.server, s.chaos, s.markdown, std::cout);
        std::cout << (clean ? "OK: nothing lost or answered twice\n"
                            : "FAILED: messages lost or answered twice, or the run failed\n");
        return clean ? 0 : 1;
    }

    bool all_ok = true;
    bool throughput = s.scenario == "all" || s.scenario == "throughput";
    bool inflight = s.scenario == "all" || s.scenario == "inflight";
    bool ilink = s.scenario == "all" || s.scenario == "ilink";
    if (throughput) {
        std::vector<Point> points;
        for (Path path : paths_of(s.path)) {
            for (int users : s.users) {
                int messages = s.messages > 0 ? s.messages : default_messages(users);
                int connections =
                    s.concurrency > 0 ? std::min(s.concurrency, users) : std::min(users, 1000);
                points.push_back(run_point(s, Spec{path, users, messages, connections, connections,
                                                   s.llm_delay_ms, s.llm_concurrency, s.stream}));
                all_ok = all_ok && points.back().ok();
            }
        }
        std::cout << "Throughput (LLM delay " << s.llm_delay_ms << " ms; memory " << s.memory
                  << "; " << (s.stream ? "replies streamed to the user and from the LLM; " : "")
                  << "each user sends its next message after the previous reply)\n\n";
        print_throughput(std::cout, points, s.markdown);
        std::cout << "\n" << std::flush;
    }
    if (inflight) {
        std::vector<Point> points;
        for (Path path : paths_of(s.path)) {
            int users = s.inflight;
            // Webhooks are acknowledged at once, so a few connections carry every conversation;
            // http_api holds one connection per waiting reply, and the server one more to the
            // LLM: both ends must fit the file limit.
            int connections = std::min(users, 1000);
            if (path == Path::http_api) {
                auto fit = static_cast<int>(std::clamp((file_limit - 1000) / 2, 1LL, 1LL << 30));
                if (users > fit) {
                    std::cerr << "bench: http_api inflight capped at " << fit
                              << " conversations by RLIMIT_NOFILE " << file_limit << "\n";
                    users = fit;
                }
                connections = users;
            }
            points.push_back(run_point(
                s, Spec{path, users, 1, connections, users, s.inflight_delay_ms, users, true}));
            all_ok = all_ok && points.back().ok();
        }
        std::cout << "In flight (every conversation sends one message at once; the LLM streams "
                  << "each reply over " << s.inflight_delay_ms << " ms)\n\n";
        print_inflight(std::cout, points, s.markdown);
        std::cout << "\n";
    }
    if (ilink) {
        std::vector<IlinkPoint> points{run_ilink_point(s.server, s.keep, s.ilink)};
        all_ok = all_ok && points.back().chat.ok();
        std::cout << "WeChat iLink accounts (every account long-polls the fake, which parks empty "
                  << "polls for " << s.ilink.poll_hold_ms / 1000.0 << " s; the chatting ones send "
                  << "their next message after the previous reply)\n\n";
        print_ilink(std::cout, points, s.markdown);
        std::cout << "\n";
    }
    std::cout << (all_ok ? "OK: nothing lost or duplicated\n"
                         : "FAILED: replies lost or duplicated, or a point failed\n");
    return all_ok ? 0 : 1;
}
