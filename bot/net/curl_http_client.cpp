#include "bot/net/curl_http_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

namespace bot {

namespace {

using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr long kSmallReceiveBufferBytes = 1024;  // CURL_MIN_READ_SIZE
constexpr long kReceiveBufferBytes = 4096;
constexpr long kIdleConnections = 1024;
constexpr std::size_t kIdleEasyHandles = 32;  // per pool (5 KiB each)

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("curl_global_init failed");
        }
    });
}

template <auto cleanup>
struct CurlDeleter {
    void operator()(auto* handle) const { cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, CurlDeleter<curl_easy_cleanup>>;
using MultiHandle = std::unique_ptr<CURLM, CurlDeleter<curl_multi_cleanup>>;
using HeaderList = std::unique_ptr<curl_slist, CurlDeleter<curl_slist_free_all>>;

enum Direction : int { kRead = 0, kWrite = 1 };

int poll_bit(Direction direction) {
    return direction == kRead ? CURL_POLL_IN : CURL_POLL_OUT;
}

// Asio's epoll reactor is edge-triggered and a wait queued after the edge does not fire, so
// readiness that already exists (data curl left unread, or that arrived before the wait was
// queued) has to be checked for directly.
bool ready_now(curl_socket_t fd, Direction direction) {
    pollfd entry{fd, static_cast<short>(direction == kRead ? POLLIN : POLLOUT), 0};
    return ::poll(&entry, 1, 0) > 0;  // POLLERR/POLLHUP count too: curl must see them
}

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Scheme and host only: paths can carry tokens (Telegram puts the bot token there).
std::string_view origin_of(std::string_view url) {
    const auto scheme_end = url.find("://");
    const auto path = url.find('/', scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
    return url.substr(0, path);
}

ClientResponse::Failure failure_for(CURLcode code) {
    if (code == CURLE_OPERATION_TIMEDOUT) return ClientResponse::Failure::timeout;
    if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
        code == CURLE_COULDNT_RESOLVE_PROXY) {
        return ClientResponse::Failure::connect;
    }
    return ClientResponse::Failure::transport;
}

// The caller's completion handler and the executor it resumes on. The executor is taken
// before type erasure: any_completion_handler's own (any_completion_executor in Boost 1.81)
// cannot be posted to, and running the caller inline on our strand is not an option.
struct Completion {
    net::any_io_executor executor;
    net::any_completion_handler<void(ClientResponse)> handler;

    void post(ClientResponse response) && {
        net::post(executor,
                  [handler = std::move(handler), response = std::move(response)]() mutable {
                      std::move(handler)(std::move(response));
                  });
    }
};

// One request from start to completion. Member order matters: the easy handle is destroyed
// first because it points into the header list, the body and the error buffer.
struct Transfer {
    // Boost 1.81's any_completion_handler move assignment recurses forever: construct only.
    Transfer(ClientRequest to_send, Completion when_done)
        : request(std::move(to_send)), completion(std::move(when_done)) {}

    ClientRequest request;
    ClientResponse response;
    Completion completion;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::array<char, CURL_ERROR_SIZE> error{};
    std::string callback_error;  // set when on_body_chunk threw
    bool body_too_large = false;
    HeaderList headers;
    EasyHandle easy;

    int status_so_far() const {
        long code = 0;
        curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &code);
        return static_cast<int>(code);
    }
};

// A socket curl told us about. Connections come from our open-socket callback and are owned
// here; other descriptors (the threaded resolver's wake-up socket) are only watched.
//
// Asio watches an owned connection through a duplicate of the descriptor curl uses. curl 7.88
// closes a connection's descriptor itself, without the close-socket callback, when a handle is
// removed while it connects (shutdown). Closing or deregistering that number afterwards would
// hit whatever socket another thread opened under it meanwhile (seen as "Bad file descriptor"
// on other connections); the duplicate's number stays ours until we close it.
struct WatchedSocket {
    std::uint64_t id = 0;  // descriptor numbers are recycled; ids tell stale handlers apart
    std::optional<tcp::socket> owned;  // the duplicate
    std::optional<net::posix::stream_descriptor> foreign;
    int wanted = 0;                       // CURL_POLL_IN / CURL_POLL_OUT as last requested by curl
    std::array<bool, 2> waiting{};        // an async_wait is queued for the direction
    std::array<bool, 2> action_posted{};  // a socket action is already posted for it

    void stop() {
        boost::system::error_code ignored;
        if (owned) owned->close(ignored);
        if (foreign) foreign->release();  // curl closes its own descriptors
    }
};

}  // namespace

class CurlHttpClient::Engine : public std::enable_shared_from_this<Engine> {
public:
    Engine(net::any_io_executor executor, Logger& logger)
        : strand_(net::make_strand(std::move(executor))), logger_(logger), timer_(strand_) {
        multi_.reset(curl_multi_init());
        if (!multi_) throw std::runtime_error("curl_multi_init failed");
        curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &Engine::on_socket);
        curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &Engine::on_timer);
        curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
        // curl's default keeps 4 idle connections per transfer *currently* running, so a dip
        // in load closes connections that the next burst opens again (a handshake on both ends
        // each). A fixed pool keeps them: idle ones cost a descriptor, no thread.
        curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, kIdleConnections);
    }

    // Only reached when nothing is queued on the io_context for us any more (or the
    // io_context is being destroyed): handlers of unfinished requests are dropped, not run.
    ~Engine() { close(false); }

    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const net::strand<net::any_io_executor>& strand() const { return strand_; }

    // On the strand from here on.
    void start(ClientRequest request, Completion completion) {
        if (!multi_) {
            std::move(completion)
                .post(
                    ClientResponse::failed(ClientResponse::Failure::cancelled, "client shut down"));
            return;
        }
        auto transfer = std::make_unique<Transfer>(std::move(request), std::move(completion));
        if (idle_easy_.empty()) {
            transfer->easy.reset(curl_easy_init());
        } else {
            transfer->easy = std::move(idle_easy_.back());
            idle_easy_.pop_back();
        }
        if (!transfer->easy) {
            complete(std::move(transfer), ClientResponse::failed(ClientResponse::Failure::transport,
                                                                 "curl_easy_init failed"));
            return;
        }
        configure(*transfer);
        // curl holds its own copy (the slist): thousands of parked long polls need not keep ours.
        std::vector<http::Header>().swap(transfer->request.headers);
        CURL* easy = transfer->easy.get();
        if (auto code = curl_multi_add_handle(multi_.get(), easy); code != CURLM_OK) {
            complete(std::move(transfer), ClientResponse::failed(ClientResponse::Failure::transport,
                                                                 curl_multi_strerror(code)));
            return;
        }
        transfers_.emplace(easy, std::move(transfer));
    }

    // notify = false only from the destructor, when posting completions is no longer safe.
    void close(bool notify) {
        closing_ = true;  // curl callbacks during the teardown must not start new waits
        auto transfers = std::exchange(transfers_, {});
        for (auto& [easy, transfer] : transfers) {
            curl_multi_remove_handle(multi_.get(), easy);
            if (notify) {
                complete(
                    std::move(transfer),
                    ClientResponse::failed(ClientResponse::Failure::cancelled, "client shut down"));
            }
        }
        transfers.clear();
        idle_easy_.clear();
        multi_.reset();  // closes the cached connections through close_socket()
        timer_.cancel();
        for (auto& [fd, socket] : sockets_) socket->stop();
        sockets_.clear();
    }

private:
    void configure(Transfer& transfer) {
        CURL* easy = transfer.easy.get();
        const ClientRequest& request = transfer.request;
        curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error.data());
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        // curl gives every transfer a receive buffer of this size (default 16 KiB). Thousands of
        // LLM streams are in flight at once and their chunks are small: 4 KiB saves ~12 KiB
        // each (120 MB at 10,000) and larger bodies merely take a few more reads. Collected
        // bodies get curl's minimum: thousands of parked long polls hold one each.
        curl_easy_setopt(easy, CURLOPT_BUFFERSIZE,
                         request.on_body_chunk ? kReceiveBufferBytes : kSmallReceiveBufferBytes);
        const bool limited = request.timeout.count() > 0;  // 0 = no limit, as in curl
        if (limited) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, long(request.timeout.count()));
        const auto connect_limit =
            limited ? std::min(request.timeout, kMaxConnectTime) : kMaxConnectTime;
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, long(connect_limit.count()));

        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Engine::on_body);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Engine::on_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &Engine::on_open_socket);
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &Engine::on_close_socket);
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);

        const bool has_body = !request.body.empty();
        if (request.method == "GET" && !has_body) {
            curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        } else if (request.method == "HEAD") {
            curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
        } else {
            if (request.method != "POST") {
                curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
            }
            if (has_body || request.method == "POST") {
                curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                 static_cast<curl_off_t>(request.body.size()));
                curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
            }
        }

        curl_slist* list = nullptr;
        auto append = [&list](const std::string& line) {
            if (auto* grown = curl_slist_append(list, line.c_str())) list = grown;
        };
        for (const auto& header : request.headers) {
            // "Name:" would remove a header; "Name;" is curl's way to send it empty.
            append(header.value.empty() ? header.name + ";" : header.name + ": " + header.value);
        }
        append("Expect:");  // no 100-continue round trip before sending a body
        transfer.headers.reset(list);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    }

    // ---- libcurl callbacks (all invoked from curl calls we make on the strand) ----

    static size_t on_header(char* data, size_t size, size_t count, void* user) {
        auto& transfer = *static_cast<Transfer*>(user);
        const size_t length = size * count;
        const auto line = trim(std::string_view(data, length));
        if (line.starts_with("HTTP/")) {
            transfer.response.headers.clear();  // 1xx or another interim response came first
        } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
            try {
                transfer.response.headers.push_back({std::string(trim(line.substr(0, colon))),
                                                     std::string(trim(line.substr(colon + 1)))});
            } catch (...) {
                return 0;  // out of memory: abort the transfer
            }
        }
        return length;
    }

    static size_t on_body(char* data, size_t size, size_t count, void* user) {
        auto& transfer = *static_cast<Transfer*>(user);
        const size_t length = size * count;
        try {
            const int status = transfer.status_so_far();
            if (transfer.request.on_body_chunk && status >= 200 && status < 300) {
                transfer.request.on_body_chunk(std::string_view(data, length));
                return length;
            }
            if (transfer.response.body.size() + length > kMaxResponseBytes) {
                transfer.body_too_large = true;
                return 0;  // makes curl abort with CURLE_WRITE_ERROR
            }
            transfer.response.body.append(data, length);
            return length;
        } catch (const std::exception& error) {
            transfer.callback_error = error.what();
        } catch (...) {
            transfer.callback_error = "unknown exception";
        }
        return 0;
    }

    static curl_socket_t on_open_socket(void* engine, curlsocktype purpose,
                                        curl_sockaddr* address) {
        try {
            return static_cast<Engine*>(engine)->open_socket(purpose, *address);
        } catch (...) {
            return CURL_SOCKET_BAD;
        }
    }

    static int on_close_socket(void* engine, curl_socket_t fd) {
        static_cast<Engine*>(engine)->close_socket(fd);
        return 0;
    }

    static int on_socket(CURL*, curl_socket_t fd, int what, void* engine, void*) {
        try {
            static_cast<Engine*>(engine)->watch(fd, what);
            return 0;
        } catch (...) {
            return -1;
        }
    }

    static int on_timer(CURLM*, long timeout_ms, void* engine) {
        try {
            static_cast<Engine*>(engine)->schedule_timeout(timeout_ms);
            return 0;
        } catch (...) {
            return -1;
        }
    }

    // ---- sockets ----

    curl_socket_t open_socket(curlsocktype purpose, const curl_sockaddr& address) {
        const bool tcp_connection = purpose == CURLSOCKTYPE_IPCXN &&
                                    address.socktype == SOCK_STREAM &&
                                    (address.family == AF_INET || address.family == AF_INET6);
        if (!tcp_connection) return CURL_SOCKET_BAD;
        // Created by hand, so a stale entry under the same number (curl closed it without
        // telling us) can be dropped first: that closes only its duplicate.
        const int fd = ::socket(address.family, SOCK_STREAM | SOCK_CLOEXEC, address.protocol);
        if (fd < 0) return CURL_SOCKET_BAD;
        forget(fd);
        const int duplicate = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (duplicate < 0) {
            ::close(fd);
            return CURL_SOCKET_BAD;
        }
        auto watched = std::make_unique<WatchedSocket>();
        watched->id = next_socket_id_++;
        watched->owned.emplace(strand_);
        boost::system::error_code error;
        watched->owned->assign(address.family == AF_INET6 ? tcp::v6() : tcp::v4(), duplicate,
                               error);
        if (error) {
            ::close(duplicate);
            ::close(fd);
            logger_.warn("http-client", "cannot watch a new socket: ", error.message());
            return CURL_SOCKET_BAD;
        }
        sockets_.emplace(fd, std::move(watched));
        return fd;
    }

    void close_socket(curl_socket_t fd) {
        forget(fd);  // closes an owned socket's duplicate, aborting its waits
        ::close(fd);
    }

    void forget(curl_socket_t fd) {
        if (auto found = sockets_.find(fd); found != sockets_.end()) {
            found->second->stop();
            sockets_.erase(found);
        }
    }

    void watch(curl_socket_t fd, int what) {
        auto found = sockets_.find(fd);
        if (what == CURL_POLL_REMOVE) {
            if (found == sockets_.end()) return;
            if (found->second->foreign) {
                forget(fd);
            } else {
                // An idle pooled connection: close_socket() ends it. Its waits are dropped so
                // it holds neither the engine nor the io_context's work count.
                found->second->wanted = 0;
                boost::system::error_code ignored;
                found->second->owned->cancel(ignored);
            }
            return;
        }
        if (closing_) return;
        if (found == sockets_.end()) {
            auto watched = std::make_unique<WatchedSocket>();
            watched->id = next_socket_id_++;
            watched->foreign.emplace(strand_);
            boost::system::error_code error;
            watched->foreign->assign(fd, error);
            if (error) {
                logger_.warn("http-client", "cannot watch curl's descriptor: ", error.message());
                return;
            }
            found = sockets_.emplace(fd, std::move(watched)).first;
        }
        WatchedSocket& socket = *found->second;
        socket.wanted = what;
        if (what & CURL_POLL_IN) arm(fd, socket, kRead);
        if (what & CURL_POLL_OUT) arm(fd, socket, kWrite);
    }

    WatchedSocket* find(curl_socket_t fd, std::uint64_t id) {
        auto found = sockets_.find(fd);
        return found != sockets_.end() && found->second->id == id ? found->second.get() : nullptr;
    }

    void arm(curl_socket_t fd, WatchedSocket& socket, Direction direction) {
        const auto id = socket.id;
        if (!socket.waiting[direction]) {
            socket.waiting[direction] = true;
            auto on_ready = [self = shared_from_this(), fd, id,
                             direction](boost::system::error_code error) {
                self->on_wait_done(fd, id, direction, error);
            };
            if (socket.owned) {
                socket.owned->async_wait(
                    direction == kRead ? tcp::socket::wait_read : tcp::socket::wait_write,
                    std::move(on_ready));
            } else {
                using Descriptor = net::posix::stream_descriptor;
                socket.foreign->async_wait(
                    direction == kRead ? Descriptor::wait_read : Descriptor::wait_write,
                    std::move(on_ready));
            }
        }
        // Checked after queuing the wait, so readiness arriving in between is not missed.
        if (!socket.action_posted[direction] && ready_now(fd, direction)) {
            socket.action_posted[direction] = true;
            net::post(strand_, [self = shared_from_this(), fd, id, direction] {
                if (auto* socket = self->find(fd, id)) {
                    socket->action_posted[direction] = false;
                    if (socket->wanted & poll_bit(direction)) self->act(fd, id, direction);
                }
            });
        }
    }

    void on_wait_done(curl_socket_t fd, std::uint64_t id, Direction direction,
                      boost::system::error_code error) {
        auto* socket = find(fd, id);
        if (!socket) return;
        socket->waiting[direction] = false;
        if (!(socket->wanted & poll_bit(direction))) return;
        if (error == net::error::operation_aborted) {
            arm(fd, *socket, direction);  // cancelled when idle, wanted again since
        } else {
            act(fd, id, direction);  // other errors are curl's to discover on the socket
        }
    }

    void act(curl_socket_t fd, std::uint64_t id, Direction direction) {
        if (closing_) return;
        int running = 0;
        curl_multi_socket_action(multi_.get(), fd,
                                 direction == kRead ? CURL_CSELECT_IN : CURL_CSELECT_OUT, &running);
        collect_finished();
        // curl calls on_socket only when its interest changes; an unchanged one is renewed here.
        if (auto* socket = find(fd, id); socket && (socket->wanted & poll_bit(direction))) {
            arm(fd, *socket, direction);
        }
    }

    // ---- timer ----

    void schedule_timeout(long timeout_ms) {
        if (closing_) return;
        if (timeout_ms < 0) {
            timer_.cancel();
        } else if (timeout_ms == 0) {
            timer_.cancel();
            // curl forbids calling back into the multi handle from inside this callback.
            net::post(strand_, [self = shared_from_this()] { self->on_timeout(); });
        } else {
            timer_.expires_after(std::chrono::milliseconds(timeout_ms));
            timer_.async_wait([self = shared_from_this()](boost::system::error_code error) {
                if (!error) self->on_timeout();
            });
        }
    }

    void on_timeout() {
        if (closing_) return;
        int running = 0;
        curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running);
        collect_finished();
    }

    // ---- completion ----

    void collect_finished() {
        int queued = 0;
        while (CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL* easy = message->easy_handle;
            const CURLcode result = message->data.result;  // *message dies with the handle
            auto node = transfers_.extract(easy);
            if (node.empty()) continue;
            curl_multi_remove_handle(multi_.get(), easy);
            finish(std::move(node.mapped()), result);
        }
    }

    void finish(std::unique_ptr<Transfer> transfer, CURLcode result) {
        ClientResponse response = std::move(transfer->response);
        if (result == CURLE_OK) {
            response.status = transfer->status_so_far();
        } else if (transfer->body_too_large) {
            response = ClientResponse::failed(
                ClientResponse::Failure::transport,
                "response body larger than " + std::to_string(kMaxResponseBytes) + " bytes");
        } else if (!transfer->callback_error.empty()) {
            response = ClientResponse::failed(ClientResponse::Failure::transport,
                                              "body callback failed: " + transfer->callback_error);
        } else {
            const char* detail = transfer->error[0] ? transfer->error.data() : nullptr;
            response = ClientResponse::failed(failure_for(result),
                                              detail ? detail : curl_easy_strerror(result));
        }
        if (logger_.enabled(LogLevel::debug)) {
            const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - transfer->started);
            logger_.debug("http-client", transfer->request.method, " ",
                          origin_of(transfer->request.url), " -> ",
                          response.failure == ClientResponse::Failure::none
                              ? std::to_string(response.status)
                              : response.error,
                          " in ", elapsed.count(), " ms");
        }
        complete(std::move(transfer), std::move(response));
    }

    void complete(std::unique_ptr<Transfer> transfer, ClientResponse response) {
        auto completion = std::move(transfer->completion);
        // Handles are kept for the next requests: a fresh one costs an allocation of several
        // kilobytes and its receive buffer. Reset, it keeps no option pointing into this
        // transfer (headers, error buffer, callbacks' data).
        if (transfer->easy && multi_ && idle_easy_.size() < kIdleEasyHandles) {
            curl_easy_reset(transfer->easy.get());
            idle_easy_.push_back(std::move(transfer->easy));
        }
        transfer.reset();  // before the caller resumes
        std::move(completion).post(std::move(response));
    }

    net::strand<net::any_io_executor> strand_;
    Logger& logger_;
    net::steady_timer timer_;
    std::unordered_map<curl_socket_t, std::unique_ptr<WatchedSocket>> sockets_;
    std::uint64_t next_socket_id_ = 1;
    std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
    std::vector<EasyHandle> idle_easy_;  // reset handles for the next requests
    MultiHandle multi_;
    bool closing_ = false;
};

CurlHttpClient::CurlHttpClient(net::any_io_executor executor, Logger& logger) {
    init_curl_once();
    engines_.reserve(kPools);
    for (std::size_t i = 0; i < kPools; ++i)
        engines_.push_back(std::make_shared<Engine>(executor, logger));
}

CurlHttpClient::~CurlHttpClient() {
    try {
        shutdown();
    } catch (...) {
        // Posting failed (out of memory): the engines then clean up when their last user goes.
    }
}

void CurlHttpClient::shutdown() {
    // Always posted, never run inline: a body callback on the strand may be the caller, and
    // the multi handle must not be torn down under curl's feet.
    for (auto& engine : engines_) net::post(engine->strand(), [engine] { engine->close(true); });
}

void CurlHttpClient::shutdown_and_wait(std::chrono::milliseconds limit) {
    std::vector<std::future<void>> closed;
    for (auto& engine : engines_) {
        auto promise = std::make_shared<std::promise<void>>();
        closed.push_back(promise->get_future());
        net::post(engine->strand(), [engine, promise] {
            engine->close(true);
            promise->set_value();
        });
    }
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (auto& done : closed) done.wait_until(deadline);
}

net::awaitable<ClientResponse> CurlHttpClient::request(ClientRequest request) {
    auto engine = engines_[request.pool % engines_.size()];
    return net::async_initiate<const net::use_awaitable_t<>, void(ClientResponse)>(
        [engine = std::move(engine)](auto handler, ClientRequest request) {
            // Outstanding work on the caller's executor keeps its io_context running until
            // the answer is delivered.
            net::any_io_executor executor = net::prefer(
                net::get_associated_executor(handler, engine->strand().get_inner_executor()),
                net::execution::outstanding_work.tracked);
            Completion completion{std::move(executor), std::move(handler)};
            net::post(engine->strand(), [engine, completion = std::move(completion),
                                         request = std::move(request)]() mutable {
                engine->start(std::move(request), std::move(completion));
            });
        },
        net::use_awaitable, std::move(request));
}

}  // namespace bot
