#include "bench/memory_return.hpp"

#include "bench/load.hpp"
#include "bench/server_process.hpp"
#include "fakes/fake_llm.hpp"
#include "fakes/fake_telegram.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

namespace bench {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// One authenticated POST of a big body; counts the answer's status.
net::awaitable<void> post_body(tcp::endpoint endpoint, const std::string& request,
                               std::map<int, int>& statuses) {
    beast::tcp_stream stream(co_await net::this_coro::executor);
    stream.expires_after(std::chrono::seconds(120));
    auto [cec] = co_await stream.async_connect(endpoint, use_tuple);
    int status = -1;  // transport failure
    if (!cec) {
        // A refusing server may answer before the body is all written: read the answer anyway.
        co_await net::async_write(stream, net::buffer(request), use_tuple);
        beast::flat_buffer buffer;
        beast::http::response<beast::http::string_body> response;
        auto [rec, read] = co_await beast::http::async_read(stream, buffer, response, use_tuple);
        if (!rec) status = static_cast<int>(response.result_int());
    }
    ++statuses[status];
}

// `count` POSTs at once whose text is too long for the adapter: each body is read whole (the
// token is right) and refused after it was parsed.
std::map<int, int> burst_bodies(std::uint16_t port, const BurstSpec& spec) {
    std::string text(spec.body_bytes, 'x');
    std::string body = json{{"user", "burst"}, {"message_id", "b"}, {"text", text}}.dump();
    std::string request =
        "POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nAuthorization: Bearer ";
    request.append(kApiToken)
        .append("\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\nConnection: close\r\n\r\n")
        .append(body);
    net::io_context io{1};
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    std::map<int, int> statuses;
    for (int i = 0; i < spec.count; ++i)
        net::co_spawn(io, post_body(endpoint, request, statuses), net::detached);
    io.run();
    return statuses;
}

// One web chat page: connects, says hello, sends one message, reads its reply, closes.
net::awaitable<void> chat_once(tcp::endpoint endpoint, int page, std::map<int, int>& outcomes) {
    websocket::stream<beast::tcp_stream> ws(co_await net::this_coro::executor);
    auto& tcp_stream = beast::get_lowest_layer(ws);
    tcp_stream.expires_after(std::chrono::seconds(60));
    int outcome = -1;  // failed; 1: answered
    auto [cec] = co_await tcp_stream.async_connect(endpoint, use_tuple);
    const std::string host = "127.0.0.1:" + std::to_string(endpoint.port());
    ws.set_option(websocket::stream_base::decorator([host](websocket::request_type& request) {
        request.set(beast::http::field::origin, "http://" + host);
    }));
    beast::error_code ec = cec;
    if (!ec) std::tie(ec) = co_await ws.async_handshake(host, "/webchat/ws", use_tuple);
    if (!ec) {
        tcp_stream.expires_never();
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        char user[33];
        std::snprintf(user, sizeof user, "%032x", static_cast<unsigned>(page) + 1);
        const std::string frames[] = {json{{"type", "hello"}, {"user", user}}.dump(),
                                      R"({"type":"message","id":"b","text":"burst"})"};
        beast::flat_buffer buffer;
        for (const auto& frame : frames) {
            auto [wec, written] = co_await ws.async_write(net::buffer(frame), use_tuple);
            if (wec) break;
            const char* awaited = &frame == &frames[0] ? "ready" : "done";
            for (;;) {
                buffer.clear();
                auto [rec, read] = co_await ws.async_read(buffer, use_tuple);
                if (rec) break;
                auto answer = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
                if (answer.is_object() && answer.value("type", "") == awaited) {
                    if (&frame == &frames[1]) outcome = 1;
                    break;
                }
            }
        }
        co_await ws.async_close(websocket::close_code::normal, use_tuple);
    }
    ++outcomes[outcome];
}

std::map<int, int> burst_websockets(std::uint16_t port, const BurstSpec& spec) {
    net::io_context io{1};
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    std::map<int, int> outcomes;
    for (int i = 0; i < spec.count; ++i)
        net::co_spawn(io, chat_once(endpoint, i, outcomes), net::detached);
    io.run();
    return outcomes;
}

std::string describe(const std::map<int, int>& statuses) {
    std::string text;
    for (auto [status, n] : statuses) {
        if (!text.empty()) text += ", ";
        text += std::to_string(n) + " × " + (status < 0 ? "failed" : std::to_string(status));
    }
    return text;
}

}  // namespace

bool run_memory_return(const std::string& server_binary, const BurstSpec& spec, bool markdown,
                       std::ostream& out) {
    WorkDir dir;
    std::unique_ptr<Load> load;  // outlives the fakes: their threads report into it
    bot::testing::FakeLlm llm;
    llm.record(false);
    llm.reply_delay(std::chrono::seconds(2));
    bot::testing::FakeTelegram telegram;
    telegram.record(false);
    const bool bodies = spec.kind == "bodies";
    const bool websockets = spec.kind == "websockets";
    ServerSettings settings{.dir = dir.path(),
                            .port = free_port(),
                            .threads = spec.server_threads,
                            .path = bodies || websockets ? Path::http_api : Path::telegram,
                            .llm_base_url = llm.base_url(),
                            .telegram_api_base = telegram.api_base(),
                            .telegram_token = telegram.token(),
                            .llm_concurrency = bodies ? 0 : spec.count,
                            .stream = !bodies};
    json config = json::parse(make_config(settings));
    config["server"]["body_limit"] = 2 * spec.body_bytes + 4096;
    // The burst is to fill memory, not to meet the server's budget of bodies held at once.
    config["server"]["body_budget_bytes"] = (2 * spec.body_bytes + 4096) * (spec.count + 1);
    if (websockets) {
        config["adapters"]["web"] = {{"type", "webchat"},
                                     {"messages_per_minute", 100000},
                                     {"messages_per_minute_per_address", 1000000}};
    }
    settings.config_json = config.dump(2);

    std::vector<long> rss_kb;
    long before_kb = 0;
    long peak_kb = 0;
    std::string outcome;
    try {
        ServerProcess server(server_binary, settings);
        server.wait_ready(std::chrono::seconds(30));
        std::this_thread::sleep_for(std::chrono::seconds(1));
        before_kb = read_proc_stats(server.pid()).rss_kb;
        if (bodies) {
            outcome = describe(burst_bodies(settings.port, spec));
        } else if (websockets) {
            auto pages = burst_websockets(settings.port, spec);
            outcome =
                std::to_string(pages[1]) + " answered, " + std::to_string(pages[-1]) + " failed";
        } else {
            load = std::make_unique<Load>(
                LoadPlan{.path = Path::telegram,
                         .users = spec.count,
                         .messages = 1,
                         .connections = std::min(spec.count, 1000),
                         .in_flight = spec.count,
                         .port = settings.port,
                         .webhook_path = std::string("/telegram/").append(kTelegramAdapter),
                         .secret_token = kSecretToken,
                         .stream = true});
            telegram.on_call([sink = load.get()](const bot::testing::FakeTelegram::Call& call) {
                if (call.method != "sendMessage") return;
                auto chat = call.params.find("chat_id");
                if (chat == call.params.end()) return;
                auto id = chat->is_number_integer() ? chat->get<std::int64_t>()
                                                    : std::atoll(chat->dump().c_str() + 1);
                sink->on_send_message(id, call.params.value("text", ""));
            });
            auto result = load->run();
            outcome = std::to_string(result.replied) + " of " + std::to_string(result.messages) +
                      " replied";
        }
        auto idle_since = Clock::now();
        peak_kb = read_proc_stats(server.pid()).hwm_kb;
        for (auto at = idle_since; at <= idle_since + spec.watch; at += spec.sample_every) {
            std::this_thread::sleep_until(at);
            rss_kb.push_back(read_proc_stats(server.pid()).rss_kb);
        }
        telegram.on_call(nullptr);
        server.stop(std::chrono::seconds(30));
    } catch (const std::exception& error) {
        std::cerr << "memory: FAILED: " << error.what() << "\n";
        dir.keep();
        return false;
    }
    if (spec.keep) dir.keep();

    auto mb = [](long kb) { return kb / 1024.0; };
    std::string what = "Telegram conversations at once, replies streamed over 2 s";
    if (bodies) {
        what = "authenticated POSTs of " + std::to_string(spec.body_bytes >> 10) + " KiB at once";
    } else if (websockets) {
        what = "web chat pages at once, each one message and its reply streamed over 2 s";
    }
    out << "Memory after a burst: " << spec.count << " " << what << " (" << outcome << ")\n"
        << std::fixed << std::setprecision(1) << "RSS before " << mb(before_kb) << " MB, peak "
        << mb(peak_kb) << " MB; idle after the burst:\n\n";
    if (markdown) out << "| s after the burst | RSS (MB) |\n|---:|---:|\n";
    for (std::size_t i = 0; i < rss_kb.size(); ++i) {
        auto seconds = static_cast<long>(i) * spec.sample_every.count();
        if (markdown) {
            out << "| " << seconds << " | " << mb(rss_kb[i]) << " |\n";
        } else {
            out << "  " << std::setw(3) << seconds << " s: " << std::setw(7) << mb(rss_kb[i])
                << " MB\n";
        }
    }
    out << std::defaultfloat << "\n";
    return true;
}

}  // namespace bench
