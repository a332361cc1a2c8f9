#include "bot/net/beast_http_client.hpp"

#include "base/async.hpp"
#include "base/string_map.hpp"
#include "bot/net/client_wire.hpp"
#include "bot/net/response_parser.hpp"
#include "bot/net/tls_client.hpp"
#include "bot/net/write_now.hpp"

#include <sys/socket.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <variant>

namespace bot {

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Failure = ClientResponse::Failure;
using namespace std::chrono_literals;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto kResolveCacheTime = 60s;
// The most one read of a response asks the socket for (as Beast's own reads).
constexpr std::size_t kMaxRead = 64 * 1024;
// What a connection's buffer grows to once an answer on it took more than one read: the head
// and a short body of a typical answer (an API's JSON, an SSE stream's first events) then
// arrive in one read. Beast's first 512 bytes split most answers into two reads, each a system
// call and a pass through the scheduler. Not reserved up front: thousands of parked long polls
// with small answers would each hold it while they wait.
constexpr std::size_t kGrownReadBuffer = 2048;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// A connection idle for less than this is reused without asking the kernel whether the server
// closed it (a system call per request under load): servers keep connections alive for
// seconds, and one closed meanwhile fails with nothing received and is retried (is_stale_error).
constexpr auto kTrustedIdle = 1s;

bool is_connect_error(const boost::system::error_code& ec) {
    return ec == net::error::connection_refused || ec == net::error::host_unreachable ||
           ec == net::error::network_unreachable || ec == net::error::host_not_found ||
           ec == net::error::host_not_found_try_again || ec == net::error::no_data;
}

// The server closed a kept-alive connection while it sat in the pool.
bool is_stale_error(const boost::system::error_code& ec) {
    return ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == ssl::error::stream_truncated;
}

class Connection : public std::enable_shared_from_this<Connection> {
public:
    using Plain = beast::tcp_stream;
    using Tls = beast::ssl_stream<beast::tcp_stream>;
    using Stream = std::variant<Plain, Tls>;

    // tls_context is set for an https origin only.
    Connection(const net::any_io_executor& io, ssl::context* tls_context, const Origin& origin)
        : strand(make_io_strand(io)),
          stream(tls_context ? Stream(std::in_place_type<Tls>, strand, *tls_context)
                             : Stream(std::in_place_type<Plain>, strand)),
          key(origin.key),
          read_timer(strand) {}

    beast::tcp_stream& lowest() {
        return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                          stream);
    }

    // The peer closed it, or sent something unasked: not reusable. For TLS a pending record
    // (a session ticket) is normal and read by OpenSSL with the next answer.
    bool still_open() {
        char byte;
        const auto n = ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) return false;
        if (n > 0) return std::holds_alternative<Tls>(stream);
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }

    void close() {
        boost::system::error_code ignored;
        lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest().close();
    }

    net::any_io_executor strand;  // make_io_strand
    Stream stream;
    beast::flat_buffer buffer;
    std::string key;
    bool connected = false;
    Clock::time_point idle_since{};
    // The deadline of a response's reads (ResponseDeadline). A wait that completes after its
    // response was read finds responses_read moved on and does nothing.
    net::steady_timer read_timer;
    std::uint64_t responses_read = 0;
    bool read_timed_out = false;
};

// One deadline for all reads of a response, armed when the first read must wait: tcp_stream
// arms and cancels its timer around every read, which for a streamed reply is every chunk. On
// expiry the socket's operations are cancelled and the response fails as timed out.
class ResponseDeadline {
public:
    ResponseDeadline(Connection& connection, std::optional<Clock::time_point> deadline)
        : connection_(connection), deadline_(deadline) {
        connection_.read_timed_out = false;
        connection_.lowest().expires_never();
    }
    ~ResponseDeadline() {
        ++connection_.responses_read;
        if (armed_) connection_.read_timer.cancel();
    }
    ResponseDeadline(const ResponseDeadline&) = delete;
    ResponseDeadline& operator=(const ResponseDeadline&) = delete;

    void arm() {
        if (armed_ || !deadline_) return;
        armed_ = true;
        connection_.read_timer.expires_at(*deadline_);
        connection_.read_timer.async_wait(
            [weak = connection_.weak_from_this(),
             reads = connection_.responses_read](const boost::system::error_code& ec) {
                auto connection = weak.lock();
                if (ec || !connection || connection->responses_read != reads) return;
                connection->read_timed_out = true;
                boost::system::error_code ignored;
                connection->lowest().socket().cancel(ignored);
            });
    }

    // True once the deadline passed. Checked before each read too: it may pass between two
    // reads, when there is no read for the expiry to cancel.
    bool passed() const { return connection_.read_timed_out; }

    // What a read failed with, as the caller should see it.
    boost::system::error_code explain(const boost::system::error_code& ec) const {
        return ec && passed() ? beast::error::timeout : ec;
    }

private:
    Connection& connection_;
    std::optional<Clock::time_point> deadline_;
    bool armed_ = false;
};

// Where a response's bytes are read from: a plain connection's socket itself, past
// tcp_stream's per-operation timer (ResponseDeadline keeps the time instead).
template <class Stream>
auto& read_source(Stream& stream) {
    if constexpr (std::is_same_v<Stream, Connection::Plain>) {
        return stream.socket();
    } else {
        return stream;
    }
}

// What one attempt on one connection produced.
struct Attempt {
    ClientResponse response;
    bool keep = false;                // the connection can serve the next request
    bool nothing_received = false;    // failed before any byte of the answer arrived
    boost::system::error_code error;  // the transport error, if any
};

}  // namespace

class BeastHttpClient::Pools {
public:
    Pools(net::any_io_executor executor, Logger& log, BeastHttpClientOptions opts)
        : io(std::move(executor)),
          logger(log),
          options(std::move(opts)),
          tls(options.extra_ca_file) {}

    // An idle connection to the origin (reused = true), or a new unconnected one; nullptr
    // once shut down.
    std::shared_ptr<Connection> acquire(const Origin& origin, bool& reused) {
        // Outside the lock: the first call loads the system's CA bundle (~50 ms).
        ssl::context* tls_context = origin.tls ? &tls.get() : nullptr;
        std::lock_guard lock(mutex);
        if (closed) return nullptr;
        reused = false;
        if (auto found = idle.find(origin.key); found != idle.end()) {
            auto& list = found->second;
            const auto now = Clock::now();
            while (!list.empty()) {
                auto connection = std::move(list.back());
                list.pop_back();
                --idle_count;
                const auto idle_for = now - connection->idle_since;
                if (idle_for < options.idle_lifetime &&
                    (idle_for < kTrustedIdle || connection->still_open())) {
                    reused = true;
                    return connection;
                }
                connection->close();  // unused by anyone: safe off its strand
            }
        }
        auto connection = std::make_shared<Connection>(io, tls_context, origin);
        if (live.size() >= live_sweep_at) {
            std::erase_if(live, [](const auto& weak) { return weak.expired(); });
            live_sweep_at = std::max<std::size_t>(64, live.size() * 2);
        }
        live.push_back(connection);
        return connection;
    }

    void release(std::shared_ptr<Connection> connection) {
        connection->idle_since = Clock::now();
        std::lock_guard lock(mutex);
        if (closed || idle_count >= options.max_idle_connections) {
            connection->close();
            return;
        }
        idle[connection->key].push_back(std::move(connection));
        ++idle_count;
    }

    std::optional<tcp::resolver::results_type> cached_endpoints(const std::string& key) {
        std::lock_guard lock(mutex);
        auto found = resolved.find(key);
        if (found == resolved.end() || found->second.second < Clock::now()) return std::nullopt;
        return found->second.first;
    }

    void cache_endpoints(const std::string& key, const tcp::resolver::results_type& results) {
        std::lock_guard lock(mutex);
        resolved[key] = {results, Clock::now() + kResolveCacheTime};
    }

    bool is_closed() const { return closed; }

    void shutdown() {
        std::vector<std::shared_ptr<Connection>> open;
        {
            std::lock_guard lock(mutex);
            closed = true;
            for (auto& weak : live) {
                if (auto connection = weak.lock()) open.push_back(std::move(connection));
            }
            live.clear();
            idle.clear();
            idle_count = 0;
        }
        // On each connection's strand: a request may be reading from it right now.
        for (auto& connection : open) {
            net::post(connection->strand, [connection] { connection->close(); });
        }
    }

    // Counted without the mutex (twice per request); the last one takes it to notify, so a
    // waiter between its check and its wait cannot miss the wake-up.
    void begin_request() { ++in_flight; }

    void end_request() {
        if (--in_flight == 0) {
            std::lock_guard lock(mutex);
            drained.notify_all();
        }
    }

    bool wait_drained(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex);
        return drained.wait_for(lock, limit, [this] { return in_flight == 0; });
    }

    // A URL's parsed origin; nullptr when it is not an http(s) URL the client sends to. Kept
    // by the URL's origin part as written: a client talks to a handful of origins, and parsing
    // and normalising each request's URL cost more than the lookup.
    std::shared_ptr<const Origin> origin_of(std::string_view url) {
        const auto part = origin_part(url);
        std::lock_guard lock(mutex);
        if (auto found = origins.find(part); found != origins.end()) return found->second;
        auto parsed = parse_origin(part);
        if (!parsed) return nullptr;
        if (origins.size() >= kMaxKeptOrigins) origins.clear();  // URLs from elsewhere: bounded
        return origins.emplace(part, std::make_shared<const Origin>(std::move(*parsed)))
            .first->second;
    }

    net::any_io_executor io;
    Logger& logger;
    const BeastHttpClientOptions options;

private:
    TlsClientContext tls;
    std::mutex mutex;
    std::condition_variable drained;
    std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>> idle;
    std::size_t idle_count = 0;
    std::vector<std::weak_ptr<Connection>> live;  // for shutdown
    std::size_t live_sweep_at = 64;
    std::unordered_map<std::string, std::pair<tcp::resolver::results_type, Clock::time_point>>
        resolved;
    static constexpr std::size_t kMaxKeptOrigins = 256;
    StringMap<std::shared_ptr<const Origin>> origins;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<bool> closed{false};  // written under the mutex, read anywhere
};

namespace {

using Pools = BeastHttpClient::Pools;

struct Deadlines {
    std::optional<Clock::time_point> transfer;  // none: no limit
    Clock::time_point connect;
};

void expire(beast::tcp_stream& stream, const std::optional<Clock::time_point>& deadline) {
    if (deadline) {
        stream.expires_at(*deadline);
    } else {
        stream.expires_never();
    }
}

Attempt failure_of(Pools& pools, const boost::system::error_code& ec, std::string_view stage) {
    Attempt attempt;
    attempt.error = ec;
    if (pools.is_closed()) {
        attempt.response = ClientResponse::failed(Failure::cancelled, "client shut down");
    } else if (ec == beast::error::timeout) {
        attempt.response =
            ClientResponse::failed(Failure::timeout, std::string(stage) + " timed out");
    } else if (is_connect_error(ec)) {
        attempt.response =
            ClientResponse::failed(Failure::connect, std::string(stage) + ": " + ec.message());
    } else {
        attempt.response =
            ClientResponse::failed(Failure::transport, std::string(stage) + ": " + ec.message());
    }
    return attempt;
}

net::awaitable<boost::system::error_code> connect(Pools& pools, Connection& connection,
                                                  const Origin& origin, Deadlines deadlines) {
    tcp::resolver::results_type endpoints;
    if (auto known = endpoints_without_dns(origin)) {
        endpoints = std::move(*known);
    } else if (auto cached = pools.cached_endpoints(origin.key)) {
        endpoints = std::move(*cached);
    } else {
        tcp::resolver resolver(connection.strand);
        auto [resolve_error, results] =
            co_await resolver.async_resolve(origin.host, origin.port, use_tuple);
        if (resolve_error) co_return resolve_error;
        pools.cache_endpoints(origin.key, results);
        endpoints = std::move(results);
    }
    // shutdown() closes the sockets it finds open; one still resolving has none yet. This check
    // and the start of the connect run in one handler on the strand, so a later close() sees
    // the socket open.
    if (pools.is_closed()) co_return net::error::operation_aborted;
    auto& lowest = connection.lowest();
    lowest.expires_at(deadlines.connect);
    auto [connect_error, endpoint] = co_await lowest.async_connect(endpoints, use_tuple);
    if (connect_error) co_return connect_error;
    boost::system::error_code ignored;
    lowest.socket().set_option(tcp::no_delay(true), ignored);

    if (auto* tls = std::get_if<Connection::Tls>(&connection.stream)) {
        if (auto ec = prepare_tls_client(*tls, origin.host)) co_return ec;
        auto [handshake_error] = co_await tls->async_handshake(ssl::stream_base::client, use_tuple);
        if (handshake_error) co_return handshake_error;
    }
    connection.connected = true;
    co_return boost::system::error_code{};
}

Attempt failed_attempt(std::string error) {
    Attempt attempt;
    attempt.response = ClientResponse::failed(Failure::transport, std::move(error));
    return attempt;
}

template <class Stream>
net::awaitable<Attempt> exchange_on(Pools& pools, Stream& stream, Connection& connection,
                                    const std::string& message, const ClientRequest& request,
                                    Deadlines deadlines) {
    expire(connection.lowest(), deadlines.transfer);
    const net::const_buffer bytes(message.data(), message.size());
    boost::system::error_code sent;
    if (auto rest = write_now(stream, bytes, sent)) sent = co_await write_rest(stream, *rest);
    if (sent) {
        auto attempt = failure_of(pools, sent, "send");
        attempt.nothing_received = true;
        co_return attempt;
    }
    // The response is read with the stream's own read (a plain connection's socket's) against
    // one deadline and handed to the parser here, rather than through Beast's composed
    // http::async_read_header and async_read_some: their layers of handlers and tcp_stream's
    // timer per read cost more than the parse, for the head and for every chunk of a streamed
    // reply. Interim 1xx answers are skipped: only the final response's headers are kept.
    Attempt attempt;
    auto& response = attempt.response;
    std::optional<ResponseParser> parser;
    const auto start_parser = [&] {
        parser.emplace(request, response, BeastHttpClient::kMaxResponseBytes);
        parser->header_limit(kHeaderLimit);
        parser->body_limit(boost::none);  // the parser caps collected bodies itself
        parser->eager(true);              // the body too, as far as the bytes at hand go
        if (request.method == "HEAD") parser->skip(true);
    };
    start_parser();
    int reads = 0;
    bool need_input = connection.buffer.size() == 0;
    ResponseDeadline deadline(connection, deadlines.transfer);
    for (;;) {
        boost::system::error_code ec;
        if (need_input) {
            if (deadline.passed()) co_return failure_of(pools, beast::error::timeout, "receive");
            deadline.arm();
            ++reads;
            auto [read_error, read] = co_await read_source(stream).async_read_some(
                connection.buffer.prepare(beast::read_size(connection.buffer, kMaxRead)),
                use_tuple);
            connection.buffer.commit(read);
            if (read_error == net::error::eof && parser->got_some()) {
                parser->put_eof(ec);  // ends a body delimited by the close; else partial_message
            } else {
                ec = deadline.explain(read_error);
            }
        }
        if (!ec && connection.buffer.size() > 0) {
            connection.buffer.consume(parser->put(connection.buffer.data(), ec));
        }
        need_input = ec == bhttp::error::need_more || connection.buffer.size() == 0;
        if (ec == bhttp::error::need_more) ec = {};
        if (!parser->problem().empty()) co_return failed_attempt(parser->problem());
        if (ec) {
            auto failed = failure_of(pools, ec, "receive");
            failed.nothing_received = !parser->got_some() && connection.buffer.size() == 0;
            co_return failed;
        }
        if (!parser->is_done()) continue;
        if (response.status < 100 || response.status >= 200 || response.status == 101) break;
        start_parser();  // an interim answer: the final one follows
        need_input = connection.buffer.size() == 0;
    }
    attempt.keep = parser->keep_alive() && connection.buffer.size() == 0;
    if (reads > 1 && connection.buffer.capacity() < kGrownReadBuffer)
        connection.buffer.reserve(kGrownReadBuffer);
    co_return attempt;
}

// Runs on the connection's strand (make_io_strand).
net::awaitable<Attempt> attempt_on(std::shared_ptr<Pools> pools,
                                   std::shared_ptr<Connection> connection, const Origin* origin,
                                   const std::string* message, const ClientRequest* request,
                                   Deadlines deadlines) {
    if (!connection->connected) {
        if (auto ec = co_await connect(*pools, *connection, *origin, deadlines); ec) {
            connection->close();
            co_return failure_of(*pools, ec, "connect to " + origin->key);
        }
    }
    Attempt attempt;
    if (auto* tls = std::get_if<Connection::Tls>(&connection->stream)) {
        attempt = co_await exchange_on(*pools, *tls, *connection, *message, *request, deadlines);
    } else {
        auto& plain = std::get<Connection::Plain>(connection->stream);
        attempt = co_await exchange_on(*pools, plain, *connection, *message, *request, deadlines);
    }
    if (attempt.keep && !pools->is_closed()) {
        connection->lowest().expires_never();
        pools->release(std::move(connection));
    } else {
        connection->close();
    }
    co_return attempt;
}

// Decrements the in-flight count once the caller has its answer.
struct InFlight {
    explicit InFlight(Pools& p) : pools(p) { pools.begin_request(); }
    ~InFlight() { pools.end_request(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    Pools& pools;
};

}  // namespace

BeastHttpClient::BeastHttpClient(net::any_io_executor executor, Logger& logger,
                                 BeastHttpClientOptions options)
    : pools_(std::make_shared<Pools>(std::move(executor), logger, std::move(options))) {}

BeastHttpClient::~BeastHttpClient() {
    shutdown();
}

void BeastHttpClient::shutdown() {
    pools_->shutdown();
}

void BeastHttpClient::shutdown_and_wait(std::chrono::milliseconds limit) {
    pools_->shutdown();
    pools_->wait_drained(limit);
}

net::awaitable<ClientResponse> BeastHttpClient::request(ClientRequest request) {
    auto pools = pools_;
    InFlight counted(*pools);
    const auto started = Clock::now();
    const auto origin = pools->origin_of(request.url);
    if (!origin)
        co_return ClientResponse::failed(Failure::transport, "malformed or unsupported URL");
    Deadlines deadlines;
    if (request.timeout.count() > 0) deadlines.transfer = started + request.timeout;
    deadlines.connect =
        std::min(started + kMaxConnectTime, deadlines.transfer.value_or(Clock::time_point::max()));
    const auto message = wire_request(request, *origin, url_target(request.url));
    if (!message)
        co_return ClientResponse::failed(Failure::transport,
                                         "line break in the method or a header");

    Attempt attempt;
    for (int tries = 0; tries < 2; ++tries) {
        bool reused = false;
        std::shared_ptr<Connection> connection;
        try {
            connection = pools->acquire(*origin, reused);
        } catch (const std::exception& error) {  // the TLS context could not be set up
            co_return ClientResponse::failed(Failure::transport, error.what());
        }
        if (!connection) co_return ClientResponse::failed(Failure::cancelled, "client shut down");
        auto strand = connection->strand;
        auto work =
            attempt_on(pools, std::move(connection), origin.get(), &*message, &request, deadlines);
        // Already on the connection's executor (one I/O thread, where strands are not needed),
        // the attempt runs as part of this coroutine: co_spawn would add a coroutine thread
        // and a post to get there.
        if (strand == co_await net::this_coro::executor) {
            attempt = co_await std::move(work);
        } else {
            attempt = co_await net::co_spawn(strand, std::move(work), net::use_awaitable);
        }
        // A kept-alive connection the server had closed: the request never reached it.
        const bool stale = reused && attempt.nothing_received && is_stale_error(attempt.error);
        if (!stale || pools->is_closed()) break;
    }
    if (pools->logger.enabled(LogLevel::debug)) {
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        const auto& response = attempt.response;
        pools->logger.debug(
            "http-client", request.method, " ", origin->key, " -> ",
            response.failure == Failure::none ? std::to_string(response.status) : response.error,
            " in ", elapsed.count(), " ms");
    }
    co_return std::move(attempt.response);
}

}  // namespace bot
