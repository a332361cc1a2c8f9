#include "bot/net/websocket_client.hpp"

#include "base/async.hpp"
#include "base/log.hpp"
#include "bot/net/client_wire.hpp"
#include "bot/net/tls_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <type_traits>
#include <unordered_map>

namespace bot {

namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Plain = beast::tcp_stream;
using Tls = beast::ssl_stream<beast::tcp_stream>;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// A read buffer a large message grew past this is given back after that message.
constexpr std::size_t kKeptReadBuffer = 64 * 1024;
// A close frame's reason: its 125 bytes of payload less the code's 2 (RFC 6455 5.5).
constexpr std::size_t kMaxCloseReason = 123;

// A close code an endpoint may send (RFC 6455 7.4): 1005, 1006 and 1015 are never sent.
int sendable_close_code(int code) {
    const bool registered =
        code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
    return registered || (code >= 3000 && code <= 4999) ? code : 1000;
}

bool has_line_break(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string lowered(std::string_view text) {
    std::string out(text);
    std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// How the client's registry sees a connection.
class LiveConnection : public WebSocketConnection {
public:
    // For the client's shutdown: a connect in progress fails, an open connection closes with
    // 1001. Thread-safe.
    virtual void end_for_shutdown() = 0;
};

class ClientState {
public:
    ClientState(net::any_io_executor executor, Logger& log, const WebSocketClientOptions& options)
        : io(std::move(executor)), logger(log), tls(options.extra_ca_file) {}

    // 0 once shut down.
    std::uint64_t add(std::weak_ptr<LiveConnection> connection) {
        std::lock_guard lock(mutex_);
        if (closed_) return 0;
        live_.emplace(++next_id_, std::move(connection));
        return next_id_;
    }

    void remove(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        live_.erase(id);
    }

    void shutdown() {
        std::vector<std::shared_ptr<LiveConnection>> open;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            for (auto& [id, weak] : live_) {
                if (auto connection = weak.lock()) open.push_back(std::move(connection));
            }
            live_.clear();
        }
        for (auto& connection : open) connection->end_for_shutdown();
    }

    bool is_closed() const { return closed_; }

    const net::any_io_executor io;
    Logger& logger;
    TlsClientContext tls;

private:
    std::mutex mutex_;
    std::unordered_map<std::uint64_t, std::weak_ptr<LiveConnection>> live_;
    std::uint64_t next_id_ = 0;
    std::atomic<bool> closed_{false};  // written under the mutex, read anywhere
};

// Every operation on the websocket stream runs on the connection's strand; send() and close()
// post there from any thread. Beast allows one read and one write at a time, so every write
// (messages and the close frame) goes through one queue, bounded in bytes -- as the server's
// websockets do (bot/http/websocket_session.cpp). Beast times the handshakes and pings a
// silent peer (idle_timeout, keep_alive_pings); writes are timed here (watch_write).
template <class Next>
class Connection final : public LiveConnection,
                         public std::enable_shared_from_this<Connection<Next>> {
public:
    static constexpr bool kTls = std::is_same_v<Next, Tls>;

    template <class... NextArgs>
    Connection(std::shared_ptr<ClientState> client, const net::any_io_executor& strand,
               WebSocketOptions options, std::string where, NextArgs&... next)
        : client_(std::move(client)),
          strand_(strand),
          options_(std::move(options)),
          where_(std::move(where)),
          ws_(strand, next...),
          connect_timer_(strand),
          write_timer_(strand) {}

    ~Connection() override {
        if (id_ != 0) client_->remove(id_);
    }

    // false when the client is shut down.
    bool registered(std::uint64_t id) {
        id_ = id;
        return id != 0;
    }

    // The connect, TLS and upgrade, on the strand, within options.connect_timeout; throws
    // WebSocketConnectError.
    static net::awaitable<void> open(std::shared_ptr<Connection> self, Origin origin,
                                     std::string target) {
        self->arm_connect_timer();
        auto& ws = self->ws_;
        tcp::resolver::results_type endpoints;
        if (auto known = endpoints_without_dns(origin)) {
            endpoints = std::move(*known);
        } else {
            // Asio cannot interrupt getaddrinfo: the timeout ends the wait once it returns.
            self->resolver_.emplace(self->strand_);
            auto [ec, results] =
                co_await self->resolver_->async_resolve(origin.host, origin.port, use_tuple);
            self->resolver_.reset();
            if (ec) throw self->connect_error(ec, "resolve");
            endpoints = std::move(results);
        }
        // end_for_shutdown() and the timer close the socket they find; one still resolving has
        // none yet. This check and the connect's start run in one handler on the strand.
        if (self->aborted_ || self->timed_out_)
            throw self->connect_error(net::error::operation_aborted, "connect");
        auto& lowest = beast::get_lowest_layer(ws);
        if (auto [ec, endpoint] = co_await lowest.async_connect(endpoints, use_tuple); ec)
            throw self->connect_error(ec, "connect to");
        boost::system::error_code ignored;
        lowest.socket().set_option(tcp::no_delay(true), ignored);
        if constexpr (kTls) {
            if (auto ec = prepare_tls_client(ws.next_layer(), origin.host))
                throw self->connect_error(ec, "TLS with");
            if (auto [ec] =
                    co_await ws.next_layer().async_handshake(ssl::stream_base::client, use_tuple);
                ec)
                throw self->connect_error(ec, "TLS with");
        }
        self->configure();
        websocket::response_type response;
        auto [ec] = co_await ws.async_handshake(response, origin.authority, target, use_tuple);
        if (ec == websocket::error::upgrade_declined && !self->timed_out_ && !self->aborted_) {
            const int status = static_cast<int>(response.result_int());
            throw WebSocketConnectError(self->where_ +
                                            " refused the upgrade: " + std::to_string(status) +
                                            " " + std::string(response.reason()).substr(0, 80),
                                        status);
        }
        if (ec) throw self->connect_error(ec, "upgrade with");
        self->connecting_ = false;
        self->connect_timer_.cancel();
        self->client_->logger.debug("websocket-client", "connected to ", self->where_);
    }

    net::awaitable<std::optional<WebSocketMessage>> read() override {
        auto self = this->shared_from_this();
        if (strand_ == co_await net::this_coro::executor) co_return co_await read_on_strand(self);
        co_return co_await net::co_spawn(strand_, read_on_strand(self), net::use_awaitable);
    }

    bool send(std::string data, bool binary) override {
        if (!open_ || closing_) return false;
        const std::size_t size = data.size();
        const std::size_t before = queued_.fetch_add(size, std::memory_order_relaxed);
        // The message being written counts too: a single message over the bound still goes,
        // but nothing waits behind a peer that does not keep up.
        if (before > 0 && before + size > options_.max_queue_bytes) {
            queued_.fetch_sub(size, std::memory_order_relaxed);
            overflow();
            return false;
        }
        net::post(
            strand_, [self = this->shared_from_this(), data = std::move(data), binary]() mutable {
                self->push(
                    Outgoing{.close = false, .binary = binary, .code = 0, .data = std::move(data)});
            });
        return true;
    }

    void close(int code, std::string reason) override {
        post_close(sendable_close_code(code), std::move(reason));
    }

    void end_for_shutdown() override {
        net::post(strand_, [self = this->shared_from_this()] {
            if (self->connecting_) {
                self->aborted_ = true;
                self->abort_connect();
            } else {
                self->push(Outgoing{.close = true, .code = 1001, .data = "client shutting down"});
            }
        });
    }

    bool is_open() const override { return open_; }

    int close_code() const override {
        std::lock_guard lock(end_mutex_);
        return close_code_;
    }

    std::string close_reason() const override {
        std::lock_guard lock(end_mutex_);
        return close_reason_;
    }

private:
    struct Outgoing {
        bool close = false;
        bool binary = false;
        int code = 0;      // close
        std::string data;  // message, or close reason
    };

    void configure() {
        websocket::stream_base::timeout timeout;
        // Beast's "handshake" timeout also bounds the closing handshake.
        timeout.handshake_timeout = options_.write_timeout;
        if (options_.ping_interval.count() > 0) {
            // Beast pings at half the idle timeout when nothing came in since its last look, and
            // gives up when nothing came in for a whole half after its ping.
            timeout.idle_timeout = 2 * options_.ping_interval;
            timeout.keep_alive_pings = true;
        } else {
            timeout.idle_timeout = websocket::stream_base::none();
            timeout.keep_alive_pings = false;
        }
        ws_.set_option(timeout);
        ws_.set_option(websocket::stream_base::decorator(
            [headers = options_.headers](websocket::request_type& request) {
                request.set(beast::http::field::user_agent, "contactbot");
                for (const auto& header : headers) request.set(header.name, header.value);
            }));
        ws_.read_message_max(options_.max_message_bytes);
    }

    void arm_connect_timer() {
        connect_timer_.expires_after(options_.connect_timeout);
        connect_timer_.async_wait([weak = this->weak_from_this()](boost::system::error_code ec) {
            auto self = weak.lock();
            if (ec || !self || !self->connecting_) return;
            self->timed_out_ = true;
            self->abort_connect();
        });
    }

    // On the strand: whichever step of the connect is waiting fails.
    void abort_connect() {
        if (resolver_) resolver_->cancel();
        boost::system::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

    WebSocketConnectError connect_error(const boost::system::error_code& ec,
                                        std::string_view stage) const {
        if (aborted_ || client_->is_closed())
            return WebSocketConnectError("websocket client shut down", 0);
        if (timed_out_) {
            return WebSocketConnectError("connect to " + where_ + " timed out after " +
                                             std::to_string(options_.connect_timeout.count()) +
                                             " ms",
                                         0);
        }
        return WebSocketConnectError(std::string(stage) + " " + where_ + ": " + ec.message(), 0);
    }

    static net::awaitable<std::optional<WebSocketMessage>> read_on_strand(
        std::shared_ptr<Connection> self) {
        if (!self->open_) co_return std::nullopt;
        auto& buffer = self->read_buffer_;
        auto [ec, n] = co_await self->ws_.async_read(buffer, use_tuple);
        if (ec) {
            self->ended(ec);
            co_return std::nullopt;
        }
        WebSocketMessage message{.data = beast::buffers_to_string(buffer.data()),
                                 .binary = self->ws_.got_binary()};
        buffer.consume(buffer.size());
        if (buffer.capacity() > kKeptReadBuffer) buffer.shrink_to_fit();
        co_return message;
    }

    // On the strand, when a read failed: why the connection ended.
    void ended(const boost::system::error_code& ec) {
        open_ = false;
        if (ec == websocket::error::closed) {
            const auto& reason = ws_.reason();
            note_end(reason.code == websocket::close_code::none ? 1005 : reason.code,
                     std::string(reason.reason.data(), reason.reason.size()));
        } else if (ec == websocket::error::message_too_big) {
            note_end(1009, "a message over " + std::to_string(options_.max_message_bytes) +
                               " bytes (closed with 1009)");
        } else if (ec == beast::error::timeout) {
            note_end(1006, "no answer to pings for " +
                               std::to_string(2 * options_.ping_interval.count()) + " ms");
        } else {
            note_end(1006, "connection lost: " + ec.message());
        }
        drop_queue();
        client_->logger.debug("websocket-client", "connection to ", where_,
                              " ended: ", close_code(), " ", close_reason());
    }

    // The first cause is kept: our own close, a timeout, then what the read saw.
    void note_end(int code, std::string reason) {
        std::lock_guard lock(end_mutex_);
        if (close_code_ != 0) return;
        close_code_ = code;
        close_reason_ = std::move(reason);
    }

    void post_close(int code, std::string reason) {
        net::post(strand_,
                  [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
                      self->push(Outgoing{.close = true, .code = code, .data = std::move(reason)});
                  });
    }

    // The queue went over its bound: what waits is dropped and the connection closed once the
    // message being written is through (or has timed out).
    void overflow() {
        if (overflowed_.exchange(true)) return;
        net::post(strand_, [self = this->shared_from_this()] {
            if (!self->open_ || self->closing_) return;
            self->client_->logger.warn("websocket-client", "connection to ", self->where_,
                                       ": more than ", self->options_.max_queue_bytes,
                                       " bytes waiting to be sent; closed");
            self->drop_queue();
            self->push(Outgoing{.close = true, .code = 1008, .data = "send queue full"});
        });
    }

    // On the strand.
    void push(Outgoing item) {
        if (!open_ || closing_ || connecting_) {
            if (!item.close) queued_.fetch_sub(item.data.size(), std::memory_order_relaxed);
            return;
        }
        if (item.close) closing_ = true;
        queue_.push_back(std::move(item));
        if (!writing_) {
            writing_ = true;
            net::co_spawn(strand_, write_loop(this->shared_from_this()), net::detached);
        }
    }

    // On the strand.
    void drop_queue() {
        for (const auto& item : queue_) {
            if (!item.close) queued_.fetch_sub(item.data.size(), std::memory_order_relaxed);
        }
        std::deque<Outgoing>().swap(queue_);  // its blocks too
    }

    static net::awaitable<void> write_loop(std::shared_ptr<Connection> self) {
        while (!self->queue_.empty() && self->open_) {
            Outgoing item = std::move(self->queue_.front());
            self->queue_.pop_front();
            self->watch_write();
            if (item.close) {
                item.data.resize(std::min(item.data.size(), kMaxCloseReason));
                self->note_end(item.code, item.data);
                websocket::close_reason reason(static_cast<std::uint16_t>(item.code));
                reason.reason = item.data;
                co_await self->ws_.async_close(reason, use_tuple);
                self->open_ = false;
                break;
            }
            self->ws_.binary(item.binary);
            auto [ec, n] = co_await self->ws_.async_write(net::buffer(item.data), use_tuple);
            self->queued_.fetch_sub(item.data.size(), std::memory_order_relaxed);
            if (ec) self->open_ = false;  // the reader hears why
        }
        self->in_write_ = false;
        if (!self->open_) self->drop_queue();
        self->writing_ = false;
    }

    // Arms the write timer for the write about to start. One timer wait serves many writes:
    // each write only moves the deadline, and the timer, when it fires early, waits on.
    void watch_write() {
        write_deadline_ = Clock::now() + options_.write_timeout;
        in_write_ = true;
        if (!write_timer_armed_) arm_write_timer();
    }

    void arm_write_timer() {
        write_timer_armed_ = true;
        write_timer_.expires_at(write_deadline_);
        write_timer_.async_wait([weak = this->weak_from_this()](boost::system::error_code ec) {
            if (auto self = weak.lock()) self->on_write_timer(ec);
        });
    }

    void on_write_timer(boost::system::error_code ec) {
        write_timer_armed_ = false;
        if (ec || !open_ || !in_write_) return;
        if (Clock::now() < write_deadline_) {
            arm_write_timer();
            return;
        }
        // Given up the way Beast's own timeouts do: the socket under the stream is closed, and
        // every pending operation (this write, the reader's read) fails.
        note_end(1006, "a write took longer than " +
                           std::to_string(options_.write_timeout.count()) + " ms");
        open_ = false;
        boost::system::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

    std::shared_ptr<ClientState> client_;
    std::uint64_t id_ = 0;
    net::any_io_executor strand_;
    const WebSocketOptions options_;
    const std::string where_;  // scheme://host:port, for errors and the log (no path: tokens)
    websocket::stream<Next> ws_;
    beast::flat_buffer read_buffer_;

    // Connecting (on the strand).
    std::optional<tcp::resolver> resolver_;
    net::steady_timer connect_timer_;
    bool connecting_ = true;
    bool timed_out_ = false;
    bool aborted_ = false;

    // Writing (on the strand, but the byte count).
    std::deque<Outgoing> queue_;
    std::atomic<std::size_t> queued_{0};  // bytes of messages sent and not yet written
    bool writing_ = false;
    bool in_write_ = false;
    bool write_timer_armed_ = false;
    Clock::time_point write_deadline_;
    net::steady_timer write_timer_;

    std::atomic<bool> open_{true};
    std::atomic<bool> closing_{false};
    std::atomic<bool> overflowed_{false};
    mutable std::mutex end_mutex_;
    int close_code_ = 0;
    std::string close_reason_;
};

class BeastWebSocketClient final : public WebSocketClient {
public:
    BeastWebSocketClient(net::any_io_executor executor, Logger& logger,
                         const WebSocketClientOptions& options)
        : state_(std::make_shared<ClientState>(std::move(executor), logger, options)) {}

    ~BeastWebSocketClient() override { shutdown(); }

    net::awaitable<std::shared_ptr<WebSocketConnection>> connect(
        WebSocketOptions options) override {
        auto client = state_;
        if (client->is_closed()) throw WebSocketConnectError("websocket client shut down", 0);
        const std::string_view url = options.url;
        const auto scheme_end = url.find("://");
        const auto scheme = lowered(url.substr(0, scheme_end));
        if (scheme_end == std::string_view::npos || (scheme != "ws" && scheme != "wss"))
            throw WebSocketConnectError("not a ws:// or wss:// URL", 0);
        const bool tls = scheme == "wss";
        auto origin =
            parse_origin(std::string(tls ? "https" : "http") + std::string(url.substr(scheme_end)));
        if (!origin) throw WebSocketConnectError("malformed websocket URL", 0);
        origin->key = std::string(tls ? "wss" : "ws") + origin->key.substr(origin->key.find(':'));
        for (const auto& header : options.headers) {
            if (has_line_break(header.name) || has_line_break(header.value))
                throw WebSocketConnectError("line break in an upgrade header", 0);
        }
        std::string target(url_target(url));
        if (target.empty() || target.front() == '?') target.insert(0, "/");
        const auto strand = make_io_strand(client->io);
        if (!tls) {
            co_return co_await start<Plain>(client, strand, std::move(options), *origin, target);
        }
        ssl::context* context = nullptr;
        try {
            context = &client->tls.get();
        } catch (const std::exception& error) {
            throw WebSocketConnectError(error.what(), 0);
        }
        co_return co_await start<Tls>(client, strand, std::move(options), *origin, target,
                                      *context);
    }

    void shutdown() override { state_->shutdown(); }

private:
    template <class Next, class... NextArgs>
    static net::awaitable<std::shared_ptr<WebSocketConnection>> start(
        std::shared_ptr<ClientState> client, net::any_io_executor strand, WebSocketOptions options,
        Origin origin, std::string target, NextArgs&... next) {
        auto connection = std::make_shared<Connection<Next>>(client, strand, std::move(options),
                                                             origin.key, next...);
        if (!connection->registered(client->add(connection)))
            throw WebSocketConnectError("websocket client shut down", 0);
        auto work = Connection<Next>::open(connection, std::move(origin), std::move(target));
        // On the connection's executor already (one I/O thread, where strands are not needed),
        // the connect runs as part of this coroutine.
        if (strand == co_await net::this_coro::executor) {
            co_await std::move(work);
        } else {
            co_await net::co_spawn(strand, std::move(work), net::use_awaitable);
        }
        co_return connection;
    }

    std::shared_ptr<ClientState> state_;  // shared with the connections
};

}  // namespace

std::unique_ptr<WebSocketClient> make_websocket_client(net::any_io_executor executor,
                                                       Logger& logger,
                                                       WebSocketClientOptions options) {
    return std::make_unique<BeastWebSocketClient>(std::move(executor), logger, options);
}

}  // namespace bot
