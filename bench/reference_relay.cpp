// reference_relay: a yardstick for the load benchmark, not a bot. It plays contactbot's part on
// the bench's Telegram path with only what that path needs, written the plain way with Asio
// coroutines, Beast and Boost.JSON on one thread: take the webhook, answer 200, ask the LLM,
// send its answer with sendMessage. No storage, no conversation memory, no retries, no limits,
// no checks beyond the secret token (a request it cannot read just ends its connection). Run
//   contactbot_bench --scenario throughput --path telegram --server build/bench/reference_relay
// its CPU per message is what this machine charges for the path's traffic plus a plain
// relay's user-space work; contactbot's figure beside it (bench/RESULTS.md, eleventh round)
// shows what durability and a real bot cost on top. It reads the config contactbot_bench
// writes for contactbot.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

// "http://127.0.0.1:8080/v1" -> endpoint and "/v1".
struct Origin {
    tcp::endpoint endpoint;
    std::string path;
};

Origin parse_origin(const std::string& url) {
    const std::string rest = url.substr(url.find("://") + 3);
    const auto slash = rest.find('/');
    const std::string host_port = rest.substr(0, slash);
    const auto colon = host_port.rfind(':');
    return {tcp::endpoint(net::ip::make_address(host_port.substr(0, colon)),
                          static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)))),
            slash == std::string::npos ? std::string() : rest.substr(slash)};
}

// Kept-alive connections to one origin: one per exchange in flight, reused afterwards.
class Pool {
public:
    explicit Pool(Origin origin) : origin_(std::move(origin)) {}
    const std::string& path() const { return origin_.path; }

    awaitable<std::string> exchange(std::string target, std::string body) {
        beast::tcp_stream stream = co_await take();
        http::request<http::string_body> request{http::verb::post, target, 11};
        request.set(http::field::host, "127.0.0.1");
        request.set(http::field::content_type, "application/json");
        request.body() = std::move(body);
        request.prepare_payload();
        co_await http::async_write(stream, request, use_awaitable);
        beast::flat_buffer buffer;
        http::response<http::string_body> response;
        co_await http::async_read(stream, buffer, response, use_awaitable);
        if (response.keep_alive()) idle_.push_back(std::move(stream));
        co_return std::move(response.body());
    }

private:
    awaitable<beast::tcp_stream> take() {
        if (!idle_.empty()) {
            beast::tcp_stream stream = std::move(idle_.back());
            idle_.pop_back();
            co_return stream;
        }
        beast::tcp_stream stream(co_await net::this_coro::executor);
        co_await stream.async_connect(origin_.endpoint, use_awaitable);
        stream.socket().set_option(tcp::no_delay(true));
        co_return stream;
    }

    Origin origin_;
    std::vector<beast::tcp_stream> idle_;
};

struct Relay {
    Pool llm;
    Pool telegram;
    std::string send_target;  // /bot<token>/sendMessage
    std::string webhook_path;
    std::string secret;

    awaitable<void> answer(std::int64_t chat_id, std::string text) {
        boost::json::object message{{"role", "user"}, {"content", std::move(text)}};
        boost::json::object ask{{"model", "fake"}, {"messages", boost::json::array{message}}};
        const std::string completion =
            co_await llm.exchange(llm.path() + "/chat/completions", boost::json::serialize(ask));
        const boost::json::value parsed = boost::json::parse(completion);
        const auto& reply = parsed.at("choices").at(0).at("message").at("content").as_string();
        boost::json::object send{{"chat_id", chat_id}, {"text", reply}};
        co_await telegram.exchange(send_target, boost::json::serialize(send));
    }

    http::response<http::string_body> handle(const http::request<http::string_body>& request) {
        http::response<http::string_body> response{http::status::ok, request.version()};
        response.set(http::field::content_type, "application/json");
        response.keep_alive(request.keep_alive());
        if (request.target() == "/readyz") {
            response.body() = R"({"status":"ready"})";
        } else if (request.target() != webhook_path ||
                   request["X-Telegram-Bot-Api-Secret-Token"] != secret) {
            response.result(http::status::unauthorized);
        } else {
            const boost::json::value update = boost::json::parse(request.body());
            const auto& message = update.at("message");
            net::co_spawn(executor,
                          answer(message.at("chat").at("id").to_number<std::int64_t>(),
                                 std::string(message.at("text").as_string())),
                          net::detached);
            response.body() = "{}";
        }
        response.prepare_payload();
        return response;
    }

    net::any_io_executor executor;
};

awaitable<void> session(tcp::socket socket, Relay& relay) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        auto [error, ignored] =
            co_await http::async_read(stream, buffer, request, net::as_tuple(use_awaitable));
        if (error) co_return;  // the client closed, or sent no HTTP
        auto response = relay.handle(request);
        co_await http::async_write(stream, response, use_awaitable);
        if (!response.keep_alive()) co_return;
    }
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, Relay& relay) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
        socket.set_option(tcp::no_delay(true));
        net::co_spawn(acceptor.get_executor(), session(std::move(socket), relay), net::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || std::string(argv[1]) != "run" || std::string(argv[2]) != "--config") {
        std::cerr
            << "usage: reference_relay run --config FILE (the config contactbot_bench writes)\n";
        return 2;
    }
    try {
        const auto config = nlohmann::json::parse(std::ifstream(argv[3]));
        const auto adapters = config.at("adapters").items();
        const auto found = std::find_if(adapters.begin(), adapters.end(), [](const auto& item) {
            return item.value().at("type") == "telegram";
        });
        if (found == adapters.end()) throw std::runtime_error("no telegram adapter configured");
        const auto& telegram = found.value();
        const std::string listen = config.at("server").at("listen");
        const Origin local = parse_origin("http://" + listen);

        net::io_context io(1);
        Relay relay{
            .llm = Pool(parse_origin(config.at("llm").at("providers").at("fake").at("base_url"))),
            .telegram = Pool(parse_origin(telegram.at("api_base"))),
            .send_target = "/bot" + telegram.at("bot_token").get<std::string>() + "/sendMessage",
            .webhook_path = "/telegram/" + found.key(),  // contactbot's default path
            .secret = telegram.at("secret_token"),
            .executor = io.get_executor()};
        tcp::acceptor acceptor(io, local.endpoint);
        acceptor.listen(4096);
        net::co_spawn(io, accept_loop(acceptor, relay), [](std::exception_ptr error) {
            if (error) std::rethrow_exception(error);
        });
        net::signal_set stop(io, SIGTERM, SIGINT);
        stop.async_wait([&io](auto, int) { io.stop(); });
        io.run();
        return 0;
    } catch (const std::exception& error) {
        std::cerr << "reference_relay: " << error.what() << "\n";
        return 1;
    }
}
