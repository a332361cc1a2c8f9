#include "bot/http/server.hpp"

#include "base/async.hpp"
#include "base/log.hpp"
#include "bot/http/connection_io.hpp"
#include "bot/http/limits.hpp"
#include "bot/http/request_parser.hpp"
#include "bot/http/trusted_proxies.hpp"
#include "bot/http/websocket_session.hpp"
#include "bot/http/wire.hpp"
#include "bot/net/write_now.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace bot::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

using detail::discard_unread;
using detail::kMaxRead;
using detail::peer_address;
using detail::read_request;
using detail::ReadUntil;

namespace {

// Streams a chunked response on the session's connection. The last chunk marks the end of
// the body, so the connection stays usable afterwards (LLM clients reuse it).
class ChunkedStream final : public ResponseStream {
public:
    ChunkedStream(beast::tcp_stream& stream, std::chrono::seconds write_timeout, bool head,
                  bool keep_alive)
        : stream_(stream), write_timeout_(write_timeout), head_(head), keep_alive_(keep_alive) {}

    net::awaitable<bool> begin(int status, std::vector<Header> headers) override {
        started_ = true;
        const std::string head = response_head({.status = status,
                                                .keep_alive = keep_alive_,
                                                .headers = &headers,
                                                .content_length = std::nullopt});
        // (Locals, not temporaries inside co_await: g++ 12 destroys those twice.)
        const std::array buffers{net::const_buffer(head.data(), head.size())};
        co_return co_await send(buffers);
    }

    net::awaitable<bool> write(std::string_view chunk) override {
        if (!ok_ || chunk.empty() || head_) co_return ok_;
        std::array<char, 24> size_line;
        const int length =
            std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", chunk.size());
        const std::array buffers{net::const_buffer(size_line.data(), std::size_t(length)),
                                 net::const_buffer(chunk.data(), chunk.size()),
                                 net::const_buffer("\r\n", 2)};
        co_return co_await send(buffers);
    }

    // True when the whole response went out and the connection may serve another request.
    net::awaitable<bool> finish() {
        if (!ok_) co_return false;
        const std::array buffers{net::const_buffer("0\r\n\r\n", 5)};
        const bool sent = co_await send(buffers);
        const bool reusable = sent && keep_alive_;
        co_return reusable;
    }

    bool started() const override { return started_; }

private:
    beast::tcp_stream& stream_;
    std::chrono::seconds write_timeout_;
    bool head_;
    bool keep_alive_;
    bool started_ = false;
    bool ok_ = false;

    template <std::size_t N>
    net::awaitable<bool> send(const std::array<net::const_buffer, N>& buffers) {
        stream_.expires_after(write_timeout_);
        boost::system::error_code ec;
        if (auto rest = write_now(stream_, buffers, ec)) ec = co_await write_rest(stream_, *rest);
        ok_ = !ec;
        co_return ok_;
    }
};

// The Beast message a websocket handshake answers, rebuilt from the parsed request (upgrades
// are rare; every other request is parsed into a Request only).
detail::UpgradeRequest upgrade_message(const Request& request, unsigned version) {
    detail::UpgradeRequest message;
    message.method_string(request.method);
    message.target(request.target);
    message.version(version);
    for (const auto& header : request.headers) message.insert(header.name, header.value);
    return message;
}

// What a session does after a request.
enum class Next {
    serve,             // read the next request on this connection
    close,             // close the connection
    discard_and_close  // answered before its body: discard_unread, then close
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
    Impl(net::any_io_executor ex, const Router& r, Logger& l, ServerOptions o)
        : executor(std::move(ex)),
          router(r),
          log(l),
          options(std::move(o)),
          acceptor(make_io_strand(executor)),
          accept_pause(acceptor.get_executor()),
          proxies(options.trusted_proxies),
          connections_per_address(AddressLimit::make(options.max_connections_per_address)),
          websockets_per_address(AddressLimit::make(options.max_websockets_per_address)),
          body_budget(options.body_budget_bytes),
          websocket_limits{.queue_bytes = options.websocket_queue_bytes,
                           .write_timeout = options.read_timeout,
                           .queued_total = std::make_shared<std::atomic<std::size_t>>(0)} {}

    static constexpr std::chrono::milliseconds kFirstAcceptPause{10};
    static constexpr std::chrono::milliseconds kMostAcceptPause{1000};

    struct Connection {
        beast::tcp_stream* stream;
        bool idle;
    };

    // Who is at the other end of a connection.
    struct Peer {
        std::string address;
        bool proxy = false;  // a trusted proxy: its forwarding headers name each client
        std::optional<AddressLimit::Slot> slot;  // its share of max_connections_per_address
    };

    net::any_io_executor executor;
    const Router& router;
    Logger& log;
    ServerOptions options;
    tcp::acceptor acceptor;
    net::steady_timer accept_pause;  // after a failed accept; on the acceptor's executor
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> connection_count{0};
    mutable std::mutex connections_mutex;
    std::map<std::uint64_t, Connection> connections;
    std::uint64_t next_connection_id = 0;
    const TrustedProxies proxies;
    const std::shared_ptr<AddressLimit> connections_per_address;
    const std::shared_ptr<AddressLimit> websockets_per_address;
    BodyBudget body_budget;
    const detail::WebSocketLimits websocket_limits;

    std::uint64_t track(beast::tcp_stream* stream) {
        std::lock_guard lock(connections_mutex);
        connections.emplace(++next_connection_id, Connection{stream, true});
        return next_connection_id;
    }
    void set_idle(std::uint64_t id, bool idle) {
        std::lock_guard lock(connections_mutex);
        connections.at(id).idle = idle;
    }
    void untrack(std::uint64_t id) {
        std::lock_guard lock(connections_mutex);
        connections.erase(id);
    }

    // Holds the Impl: the loop's last completion may run after the Server is gone.
    static net::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
        std::chrono::milliseconds pause{0};
        for (;;) {
            auto [ec, socket] =
                co_await self->acceptor.async_accept(make_io_strand(self->executor), use_tuple);
            if (self->stopping) co_return;
            if (ec) {
                if (ec == net::error::operation_aborted) co_return;
                // Out of file descriptors or memory: the connection stays queued in the kernel
                // and the next accept would fail at once, so retrying at once would spin a core
                // and flood the log. Pause, longer while it lasts; warn once per episode.
                if (pause.count() == 0)
                    self->log.warn("http", "accept failed: ", ec.message(),
                                   "; pausing new connections until it succeeds");
                pause = std::clamp(pause * 2, kFirstAcceptPause, kMostAcceptPause);
                self->accept_pause.expires_after(pause);
                co_await self->accept_pause.async_wait(use_tuple);
                if (self->stopping) co_return;
                continue;
            }
            if (pause.count() != 0) {
                self->log.info("http", "accepting connections again");
                pause = {};
            }
            self->admit(std::move(socket));
            // Then every connection already waiting (the acceptor is non-blocking). Taking one
            // per completion, each behind every other ready handler, left the last of a burst
            // of new connections under load a second or two in the kernel's queue.
            while (!self->stopping) {
                tcp::socket next(make_io_strand(self->executor));
                self->acceptor.accept(next, ec);
                if (ec) break;  // would_block: none left; a real error shows at the next wait
                self->admit(std::move(next));
            }
        }
    }

    void admit(tcp::socket socket) {
        if (connection_count.load() >= options.max_connections) {
            socket.close();  // shed load rather than exhaust file descriptors
            return;
        }
        Peer peer{.address = peer_address(socket)};
        peer.proxy = proxies.trusts(peer.address);
        if (!peer.proxy) {
            // One address holding every connection would lock everyone else out.
            peer.slot = connections_per_address->acquire(peer.address);
            if (!peer.slot) {
                socket.close();
                return;
            }
        }
        // Streamed replies (SSE, chunked LLM-style bodies, websocket frames) are small writes
        // in a row: without this, Nagle's algorithm holds each one for the peer's delayed
        // ACK, up to 40 ms.
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        ++connection_count;  // here, not in the session: a whole backlog is admitted at once
        auto ex = socket.get_executor();
        net::co_spawn(ex, session(shared_from_this(), std::move(socket), std::move(peer)),
                      [self = shared_from_this()](std::exception_ptr e) {
                          --self->connection_count;
                          if (!e) return;
                          try {
                              std::rethrow_exception(e);
                          } catch (const std::exception& err) {
                              self->log.error("http", "connection failed: ", err.what());
                          }
                      });
    }

    // One connection: read requests, route them, write responses, until close or timeout.
    static net::awaitable<void> session(std::shared_ptr<Impl> self, tcp::socket socket, Peer peer) {
        beast::tcp_stream stream(std::move(socket));
        auto id = self->track(&stream);
        beast::flat_buffer buffer;
        bool first = true;
        Next next = Next::serve;
        while (!self->stopping && next == Next::serve) {
            next = co_await self->serve_one(stream, buffer, peer, id, first);
            first = false;
        }
        self->untrack(id);
        if (next == Next::discard_and_close) co_await discard_unread(stream);
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream.close();
    }

    net::awaitable<bool> write_response(beast::tcp_stream& stream, Response response,
                                        unsigned version, bool keep_alive, bool head) {
        const std::string head_text = response_head({.status = response.status,
                                                     .version = version,
                                                     .keep_alive = keep_alive,
                                                     .content_type = response.content_type,
                                                     .headers = &response.headers,
                                                     .content_length = response.body.size()});
        const std::size_t body_bytes = head ? 0 : response.body.size();
        stream.expires_after(options.read_timeout);
        const std::array buffers{net::const_buffer(head_text.data(), head_text.size()),
                                 net::const_buffer(response.body.data(), body_bytes)};
        boost::system::error_code ec;
        if (auto rest = write_now(stream, buffers, ec)) ec = co_await write_rest(stream, *rest);
        co_return !ec && keep_alive;
    }

    // A websocket route: refuse plain requests, failed checks and clients holding their share
    // of websockets, else hand the connection over.
    net::awaitable<Next> upgrade(beast::tcp_stream& stream, Request request, unsigned version,
                                 const Route& route, Peer& peer) {
        auto message = upgrade_message(request, version);
        if (!beast::websocket::is_upgrade(message)) {
            co_await write_response(stream, Response::error(426, "websocket upgrade required"),
                                    version, false, false);
            co_return Next::close;
        }
        if (route.check) {
            if (auto refused = route.check(request)) {
                co_await write_response(stream, std::move(*refused), version, false, false);
                co_return Next::close;
            }
        }
        auto slot = websockets_per_address->acquire(request.remote);
        if (!slot) {
            co_await write_response(stream,
                                    Response::error(429, "too many websockets from this address"),
                                    version, false, false);
            co_return Next::close;
        }
        // The socket may outlive this session while its close handshake runs: it keeps its
        // slots and its place in the connection count until then.
        auto held = std::make_shared<HeldBySocket>(shared_from_this(), std::move(*slot),
                                                   std::move(peer.slot));
        co_await detail::run_websocket(std::move(stream), std::move(message), std::move(request),
                                       route, log, websocket_registry, websocket_limits,
                                       std::move(held));
        co_return Next::close;
    }

    struct HeldBySocket {
        HeldBySocket(std::shared_ptr<Impl> server, AddressLimit::Slot websocket,
                     std::optional<AddressLimit::Slot> connection)
            : server(std::move(server)),
              websocket(std::move(websocket)),
              connection(std::move(connection)) {
            ++this->server->connection_count;
        }
        ~HeldBySocket() { --server->connection_count; }
        HeldBySocket(const HeldBySocket&) = delete;
        HeldBySocket& operator=(const HeldBySocket&) = delete;

        std::shared_ptr<Impl> server;
        AddressLimit::Slot websocket;
        std::optional<AddressLimit::Slot> connection;
    };

    detail::WebSocketRegistry websocket_registry{.add =
                                                     [this](std::weak_ptr<WebSocket> socket) {
                                                         std::lock_guard lock(connections_mutex);
                                                         websockets.emplace(++next_connection_id,
                                                                            std::move(socket));
                                                         return next_connection_id;
                                                     },
                                                 .remove =
                                                     [this](std::uint64_t id) {
                                                         std::lock_guard lock(connections_mutex);
                                                         websockets.erase(id);
                                                     }};
    std::map<std::uint64_t, std::weak_ptr<WebSocket>> websockets;

    // The first request's headers must come within header_timeout of the connection; later
    // ones may keep it waiting idle_timeout for their first byte, then have header_timeout for
    // the rest (a client sending a byte at a time holds its connection no longer).
    net::awaitable<boost::system::error_code> read_head(beast::tcp_stream& stream,
                                                        beast::flat_buffer& buffer,
                                                        RequestParser& parser, bool first) {
        if (!first && buffer.size() == 0) {
            stream.expires_after(options.idle_timeout);
            auto [ec, read] = co_await stream.async_read_some(
                buffer.prepare(beast::read_size(buffer, kMaxRead)), use_tuple);
            buffer.commit(read);
            if (ec == net::error::eof) co_return bhttp::error::end_of_stream;
            if (ec) co_return ec;
        }
        stream.expires_after(options.header_timeout);
        co_return co_await read_request(stream, buffer, parser, ReadUntil::header);
    }

    // Answers without reading the request's body (if it has one) and ends the connection.
    net::awaitable<Next> refuse(beast::tcp_stream& stream, Response response, unsigned version,
                                bool head, const RequestParser& parser) {
        co_await write_response(stream, std::move(response), version, false, head);
        co_return parser.is_done() ? Next::close : Next::discard_and_close;
    }

    // The client a trusted proxy forwarded for, else the peer.
    void identify(Request& request, const Peer& peer) const {
        if (!peer.proxy) {
            request.remote = peer.address;
            return;
        }
        auto client = proxies.client(peer.address, request.headers);
        request.remote = std::move(client.address);
        if (client.https) request.scheme = "https";
    }

    net::awaitable<Next> serve_one(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                   Peer& peer, std::uint64_t id, bool first) {
        Request request;
        RequestParser parser(request);
        parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        parser.body_limit(boost::none);  // the route's limit applies once the path is known

        set_idle(id, true);
        if (stopping) co_return Next::close;
        auto ec = co_await read_head(stream, buffer, parser, first);
        set_idle(id, false);
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                co_await write_response(stream, Response::error(431, "request headers too large"),
                                        11, false, false);
            } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                       ec != net::error::operation_aborted && ec != net::error::connection_reset &&
                       ec != net::error::eof) {
                co_await write_response(stream, Response::error(400, "malformed request"), 11,
                                        false, false);
            }
            co_return Next::close;
        }

        const unsigned version = parser.version();
        const bool head = request.method == "HEAD";
        if (parser.host_fields() > 1 || (version >= 11 && parser.host_fields() == 0)) {
            co_return co_await refuse(
                stream, Response::error(400, "an HTTP/1.1 request needs exactly one Host header"),
                version, head, parser);
        }
        auto [match, route] = router.find(request.method, request.path);
        if (match != Router::Match::found) {
            // Answer without reading the body; the connection closes so no stray body bytes
            // are read as the next request.
            Response res = match == Router::Match::no_path
                               ? Response::error(404, "not found")
                               : Response::error(405, "method not allowed");
            if (match == Router::Match::wrong_method) {
                res.headers.push_back({"Allow", router.allowed_methods(request.path)});
            }
            co_return co_await refuse(stream, std::move(res), version, head, parser);
        }

        identify(request, peer);
        if (route->options.authorize) {
            std::optional<Response> refused;
            try {
                refused = route->options.authorize(request);
            } catch (const std::exception& e) {
                log.error("http", request.method, " ", request.path, " check failed: ", e.what());
                refused = Response::error(500, "internal error");
            }
            if (refused)
                co_return co_await refuse(stream, std::move(*refused), version, head, parser);
        }
        if (route->websocket) {
            // The connection may stay open for hours: give back the request buffer first.
            buffer.clear();
            buffer.shrink_to_fit();
            co_return co_await upgrade(stream, std::move(request), version, *route, peer);
        }

        std::size_t limit =
            route->options.body_limit ? route->options.body_limit : options.body_limit;
        parser.body_limit(limit);
        const auto length = parser.content_length();
        if (length && *length > limit) {
            co_return co_await refuse(stream, Response::error(413, "request body too large"),
                                      version, head, parser);
        }
        // Held until the response is written: the body lives as long as the request. A chunked
        // body may grow to the route's limit.
        std::optional<BodyBudget::Reservation> reservation;
        if (!parser.is_done()) {
            reservation = body_budget.reserve(length ? static_cast<std::size_t>(*length) : limit,
                                              request.remote);
            if (!reservation) {
                Response busy = Response::error(503, "too many request bodies at once; retry");
                busy.headers.push_back({"Retry-After", "2"});
                co_return co_await refuse(stream, std::move(busy), version, head, parser);
            }
        }
        if (parser.expects_continue()) {
            bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
            stream.expires_after(options.read_timeout);
            auto [wec, wn] = co_await bhttp::async_write(stream, cont, use_tuple);
            if (wec) co_return Next::close;
        }
        if (!parser.is_done()) {
            stream.expires_after(options.read_timeout);
            auto body_error = co_await read_request(stream, buffer, parser, ReadUntil::end);
            if (body_error == bhttp::error::body_limit) {
                co_return co_await refuse(stream, Response::error(413, "request body too large"),
                                          version, head, parser);
            }
            if (body_error) co_return Next::close;
        }

        const bool keep_alive = parser.keep_alive() && !stopping;
        ChunkedStream streamer(stream, options.read_timeout, head, keep_alive);
        Response response;
        try {
            stream.expires_never();  // handlers may wait for an LLM; writes set their own expiry
            response = co_await route->handler(request, streamer);
        } catch (const std::exception& e) {
            log.error("http", request.method, " ", request.path, " failed: ", e.what());
            if (streamer.started()) co_return Next::close;
            response = Response::error(500, "internal error");
        }
        bool reusable = false;
        if (streamer.started()) {
            reusable = co_await streamer.finish() && !stopping;
        } else if (response.status != 0) {  // 0: Response::drop(), close unanswered
            reusable = co_await write_response(stream, std::move(response), version,
                                               keep_alive && !stopping, head);
        }
        co_return reusable ? Next::serve : Next::close;
    }
};

Server::Server(net::any_io_executor executor, const Router& router, Logger& log,
               ServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), router, log, std::move(options))) {}

Server::~Server() {
    stop();
}

void Server::start() {
    auto& o = impl_->options;
    std::string where = o.host + ":" + std::to_string(o.port);
    try {
        tcp::endpoint endpoint(net::ip::make_address(o.host), o.port);
        impl_->acceptor.open(endpoint.protocol());
        impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
        impl_->acceptor.bind(endpoint);
        impl_->acceptor.listen(net::socket_base::max_listen_connections);
        impl_->acceptor.non_blocking(true);  // accept_loop drains the backlog without blocking
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on " + where + ": " + e.code().message());
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot listen on " + where + ": " + e.what());
    }
    net::co_spawn(impl_->acceptor.get_executor(), Impl::accept_loop(impl_), net::detached);
}

std::uint16_t Server::port() const {
    boost::system::error_code ec;
    auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void Server::stop() {
    if (impl_->stopping.exchange(true)) return;
    // The acceptor and the idle sockets belong to other strands: close them there.
    net::post(impl_->acceptor.get_executor(), [impl = impl_] {
        boost::system::error_code ignored;
        impl->acceptor.close(ignored);
        impl->accept_pause.cancel();
    });
    std::lock_guard lock(impl_->connections_mutex);
    for (auto& [id, socket] : impl_->websockets) {
        if (auto open = socket.lock()) open->close("server shutting down");
    }
    for (auto& [id, connection] : impl_->connections) {
        if (!connection.idle) continue;
        net::post(connection.stream->get_executor(), [impl = impl_, id = id] {
            std::lock_guard inner(impl->connections_mutex);
            if (auto it = impl->connections.find(id);
                it != impl->connections.end() && it->second.idle) {
                it->second.stream->cancel();
            }
        });
    }
}

std::size_t Server::open_connections() const {
    return impl_->connection_count.load();
}

std::size_t Server::open_websockets() const {
    std::lock_guard lock(impl_->connections_mutex);
    return impl_->websockets.size();
}

std::size_t Server::queued_websocket_bytes() const {
    return impl_->websocket_limits.queued_total->load(std::memory_order_relaxed);
}

std::size_t Server::reserved_body_bytes() const {
    return impl_->body_budget.in_use();
}

}  // namespace bot::http
