#include "bot/http/websocket_session.hpp"

#include "bot/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <deque>

namespace bot::http::detail {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

// All websocket operations run on the connection's strand (the session's). send() and close()
// may come from any thread: they post there. Beast allows one read and one write at a time, so
// every write -- messages and the close frame -- goes through one queue.
class Connection final : public WebSocket, public std::enable_shared_from_this<Connection> {
public:
    Connection(beast::tcp_stream stream, Request request, std::size_t max_message)
        : ws_(std::move(stream)), request_(std::move(request)) {
        ws_.read_message_max(max_message);
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(beast::http::field::server, "contactbot");
        }));
    }

    websocket::stream<beast::tcp_stream>& stream() { return ws_; }

    net::awaitable<std::optional<std::string>> read() override {
        beast::flat_buffer buffer;
        auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
        if (ec) {
            open_ = false;
            co_return std::nullopt;
        }
        if (!ws_.got_text()) {
            close("binary messages are not supported");
            co_return std::nullopt;
        }
        co_return beast::buffers_to_string(buffer.data());
    }

    void send(std::string text) override {
        enqueue(Outgoing{false, websocket::close_code::normal, std::move(text)});
    }

    void close(std::string reason) override {
        enqueue(Outgoing{true, websocket::close_code::policy_error, std::move(reason)});
    }

    // After the handler: flush and close normally.
    void finish() { enqueue(Outgoing{true, websocket::close_code::normal, {}}); }

    bool is_open() const override { return open_; }
    const Request& request() const override { return request_; }

private:
    struct Outgoing {
        bool close;
        websocket::close_code code;
        std::string text;  // message, or close reason
    };

    void enqueue(Outgoing item) {
        net::post(ws_.get_executor(),
                  [self = shared_from_this(), item = std::move(item)]() mutable {
                      if (!self->open_ || self->closing_) return;
                      if (item.close) self->closing_ = true;
                      self->queue_.push_back(std::move(item));
                      if (!self->writing_) {
                          self->writing_ = true;
                          net::co_spawn(self->ws_.get_executor(), write_loop(self), net::detached);
                      }
                  });
    }

    static net::awaitable<void> write_loop(std::shared_ptr<Connection> self) {
        while (!self->queue_.empty() && self->open_) {
            Outgoing item = std::move(self->queue_.front());
            self->queue_.pop_front();
            if (item.close) {
                websocket::close_reason reason(item.code, item.text.substr(0, 120));
                co_await self->ws_.async_close(reason, use_tuple);
                self->open_ = false;
                break;
            }
            self->ws_.text(true);
            auto [ec, n] = co_await self->ws_.async_write(net::buffer(item.text), use_tuple);
            if (ec) self->open_ = false;
        }
        self->queue_.clear();
        self->writing_ = false;
    }

    websocket::stream<beast::tcp_stream> ws_;
    Request request_;
    std::deque<Outgoing> queue_;
    bool writing_ = false;
    bool closing_ = false;
    std::atomic<bool> open_{true};
};

}  // namespace

net::awaitable<void> run_websocket(beast::tcp_stream stream, UpgradeRequest upgrade,
                                   Request request, const Route& route, Logger& log,
                                   const WebSocketRegistry& registry) {
    stream.expires_never();  // the websocket stream keeps its own timeouts from here on
    auto connection = std::make_shared<Connection>(std::move(stream), std::move(request),
                                                   route.options.max_message);
    {
        // Scoped: the upgrade request is not kept for the life of the connection.
        auto handshake = std::move(upgrade);
        auto [ec] = co_await connection->stream().async_accept(handshake, use_tuple);
        if (ec) co_return;
    }
    auto id = registry.add(connection);
    try {
        co_await route.websocket(connection);
    } catch (const std::exception& e) {
        log.error("http", "websocket ", connection->request().path, " failed: ", e.what());
    }
    registry.remove(id);
    connection->finish();
}

}  // namespace bot::http::detail
