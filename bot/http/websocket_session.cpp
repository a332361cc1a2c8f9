#include "bot/http/websocket_session.hpp"

#include "base/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <deque>

namespace bot::http::detail {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

// All websocket operations run on the connection's strand (the session's). send() and close()
// may come from any thread: they post there. Beast allows one read and one write at a time, so
// every write -- messages and the close frame -- goes through one queue, bounded in bytes.
class Connection final : public WebSocket, public std::enable_shared_from_this<Connection> {
public:
    Connection(beast::tcp_stream stream, Request request, std::size_t max_message,
               WebSocketLimits limits, Logger& log)
        : ws_(std::move(stream)),
          write_timer_(ws_.get_executor()),
          request_(std::move(request)),
          limits_(std::move(limits)),
          log_(log) {
        ws_.read_message_max(max_message);
        // Beast times the handshakes and idle reads (pinging a silent peer first); it has no
        // write timeout, so writes are watched here (watch_write).
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(beast::http::field::server, "contactbot");
        }));
    }

    ~Connection() override { unqueue(queued_.load()); }

    websocket::stream<beast::tcp_stream>& stream() { return ws_; }
    void hold(std::shared_ptr<void> held) { held_ = std::move(held); }

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
        if (!open_ || closing_) return;
        const std::size_t size = text.size();
        const std::size_t before = queued_.fetch_add(size, std::memory_order_relaxed);
        if (limits_.queued_total) limits_.queued_total->fetch_add(size, std::memory_order_relaxed);
        // The message being written counts too: a single message over the bound still goes,
        // but nothing waits behind a client that does not keep up.
        if (before > 0 && before + size > limits_.queue_bytes) {
            unqueue(size);
            shed();
            return;
        }
        net::post(ws_.get_executor(),
                  [self = shared_from_this(), text = std::move(text)]() mutable {
                      self->push(Outgoing{false, websocket::close_code::normal, std::move(text)});
                  });
    }

    void close(std::string reason) override {
        post_close(websocket::close_code::policy_error, std::move(reason));
    }

    // After the handler: flush and close normally.
    void finish() { post_close(websocket::close_code::normal, {}); }

    bool is_open() const override { return open_; }
    const Request& request() const override { return request_; }

private:
    struct Outgoing {
        bool close;
        websocket::close_code code;
        std::string text;  // message, or close reason
    };

    void post_close(websocket::close_code code, std::string reason) {
        net::post(ws_.get_executor(),
                  [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                      self->push(Outgoing{true, code, std::move(reason)});
                  });
    }

    void unqueue(std::size_t bytes) {
        queued_.fetch_sub(bytes, std::memory_order_relaxed);
        if (limits_.queued_total) limits_.queued_total->fetch_sub(bytes, std::memory_order_relaxed);
    }

    // On the strand.
    void push(Outgoing item) {
        if (!open_ || closing_) {
            if (!item.close) unqueue(item.text.size());
            return;
        }
        if (item.close) closing_ = true;
        queue_.push_back(std::move(item));
        if (!writing_) {
            writing_ = true;
            net::co_spawn(ws_.get_executor(), write_loop(shared_from_this()), net::detached);
        }
    }

    // On the strand.
    void drop_queue() {
        for (const auto& item : queue_) {
            if (!item.close) unqueue(item.text.size());
        }
        std::deque<Outgoing>().swap(queue_);  // its blocks too
    }

    // The queue went over its bound: what waits is dropped and the client is told to come
    // back later, once the message being written is through (or has timed out).
    void shed() {
        if (shedding_.exchange(true)) return;
        net::post(ws_.get_executor(), [self = shared_from_this()] {
            if (!self->open_ || self->closing_) return;
            self->log_.debug("http", "websocket ", self->request_.path, " from ",
                             self->request_.remote, " closed: the client does not read");
            self->drop_queue();
            self->push(
                Outgoing{true, websocket::close_code::try_again_later, "reading too slowly"});
        });
    }

    static net::awaitable<void> write_loop(std::shared_ptr<Connection> self) {
        while (!self->queue_.empty() && self->open_) {
            Outgoing item = std::move(self->queue_.front());
            self->queue_.pop_front();
            self->watch_write();
            if (item.close) {
                websocket::close_reason reason(item.code, item.text.substr(0, 120));
                co_await self->ws_.async_close(reason, use_tuple);
                self->open_ = false;
                break;
            }
            self->ws_.text(true);
            auto [ec, n] = co_await self->ws_.async_write(net::buffer(item.text), use_tuple);
            self->unqueue(item.text.size());
            if (ec) self->open_ = false;
        }
        self->in_write_ = false;
        if (!self->open_) self->drop_queue();
        self->writing_ = false;
    }

    // Arms the write timer for the write about to start. One timer wait serves many writes:
    // each write only moves the deadline, and the timer, when it fires early, waits on.
    void watch_write() {
        write_deadline_ = std::chrono::steady_clock::now() + limits_.write_timeout;
        in_write_ = true;
        if (!timer_armed_) arm_write_timer();
    }

    void arm_write_timer() {
        timer_armed_ = true;
        write_timer_.expires_at(write_deadline_);
        write_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
            if (auto self = weak.lock()) self->on_write_timer(ec);
        });
    }

    void on_write_timer(boost::system::error_code ec) {
        timer_armed_ = false;
        if (ec || !open_ || !in_write_) return;
        if (std::chrono::steady_clock::now() < write_deadline_) {
            arm_write_timer();
            return;
        }
        // Give up the way Beast's own timeouts do: close the socket under the stream, and
        // every pending operation (this write, the handler's read) fails.
        log_.debug("http", "websocket ", request_.path, " from ", request_.remote,
                   ": a write took longer than ", limits_.write_timeout.count(), " s; closed");
        open_ = false;
        beast::get_lowest_layer(ws_).close();
    }

    std::shared_ptr<void> held_;  // the server's limit slots, given back with the socket
    websocket::stream<beast::tcp_stream> ws_;
    net::steady_timer write_timer_;
    Request request_;
    WebSocketLimits limits_;
    Logger& log_;
    std::deque<Outgoing> queue_;
    std::atomic<std::size_t> queued_{0};  // bytes of messages sent and not yet written
    bool writing_ = false;
    bool in_write_ = false;
    bool timer_armed_ = false;
    std::chrono::steady_clock::time_point write_deadline_;
    std::atomic<bool> closing_{false};
    std::atomic<bool> shedding_{false};
    std::atomic<bool> open_{true};
};

}  // namespace

net::awaitable<void> run_websocket(beast::tcp_stream stream, UpgradeRequest upgrade,
                                   Request request, const Route& route, Logger& log,
                                   const WebSocketRegistry& registry, const WebSocketLimits& limits,
                                   std::shared_ptr<void> held) {
    stream.expires_never();  // the websocket stream keeps its own timeouts from here on
    auto connection = std::make_shared<Connection>(std::move(stream), std::move(request),
                                                   route.options.max_message, limits, log);
    connection->hold(std::move(held));
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
