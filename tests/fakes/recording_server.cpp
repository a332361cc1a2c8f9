#include "fakes/recording_server.hpp"

#include "base/async.hpp"
#include "bot/http/router.hpp"
#include "fakes/loopback_server.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace bot::testing {

namespace net = boost::asio;
using nlohmann::json;

Reply Reply::json(const nlohmann::json& body, int status) {
    return Reply{.status = status, .body = body.dump()};
}

Reply Reply::text(std::string body, int status) {
    return Reply{.status = status, .content_type = "text/plain", .body = std::move(body)};
}

Reply Reply::status_only(int status) {
    return Reply{.status = status, .body = "{}"};
}

Reply Reply::too_many_requests(std::optional<int> retry_after_seconds) {
    Reply reply{.status = 429, .body = R"({"error":"too many requests"})"};
    if (retry_after_seconds) {
        reply.headers.push_back({"Retry-After", std::to_string(*retry_after_seconds)});
    }
    return reply;
}

Reply Reply::dropped() {
    return Reply{.drop = true};
}

std::string_view RecordedRequest::header(std::string_view name) const {
    return http::find_header(headers, name);
}

std::optional<std::string> RecordedRequest::query_param(std::string_view name) const {
    http::Request request;
    request.query = query;
    return request.query_param(name);
}

namespace {

struct Route {
    std::string method;
    std::string path;  // without the trailing '*' when prefix
    bool prefix = false;
    RecordingServer::Handler handler;
};

struct Failure {
    std::string method;
    std::string path;
    bool prefix = false;
    Reply reply;
};

std::pair<std::string, bool> split_pattern(std::string path) {
    bool prefix = path.size() >= 2 && path.ends_with("/*");
    if (prefix) path.pop_back();
    return {std::move(path), prefix};
}

bool matches(const std::string& pattern, bool prefix, std::string_view path) {
    return prefix ? path.starts_with(pattern) : path == pattern;
}

}  // namespace

struct RecordingServer::Impl {
    Impl()
        : server([this](http::Router& router) {
              for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
                  router.add(method, "/*",
                             [this](http::Request& request,
                                    http::ResponseStream&) -> net::awaitable<http::Response> {
                                 co_return co_await answer(request);
                             });
              }
          }) {}

    net::awaitable<http::Response> answer(http::Request& request) {
        RecordedRequest record{.method = request.method,
                               .path = request.path,
                               .query = request.query,
                               .headers = request.headers,
                               .body = request.body,
                               .json = json::parse(request.body, nullptr, false)};
        Reply reply = choose(record);
        co_await sleep_for(reply.delay);
        record.status = reply.drop ? 0 : reply.status;
        record.response = json::parse(reply.body, nullptr, false);
        {
            std::lock_guard lock(mutex);
            records.push_back(std::move(record));
        }
        changed.notify_all();
        if (reply.drop) co_return http::Response::drop();
        co_return http::Response{.status = reply.status,
                                 .content_type = std::move(reply.content_type),
                                 .body = std::move(reply.body),
                                 .headers = std::move(reply.headers)};
    }

    // A scripted failure first; else the handler of the longest matching route.
    Reply choose(RecordedRequest& record) {
        Handler handler;
        {
            std::lock_guard lock(mutex);
            for (auto it = failures.begin(); it != failures.end(); ++it) {
                if (it->method == record.method && matches(it->path, it->prefix, record.path)) {
                    Reply reply = std::move(it->reply);
                    failures.erase(it);
                    record.scripted = true;
                    return reply;
                }
            }
            std::size_t best = 0;
            for (const auto& route : routes) {
                if (route.method != record.method ||
                    !matches(route.path, route.prefix, record.path)) {
                    continue;
                }
                std::size_t weight = route.prefix ? route.path.size() : std::string::npos;
                if (!handler || weight > best) {
                    handler = route.handler;
                    best = weight;
                }
            }
        }
        if (!handler) return Reply::json({{"error", "no route"}}, 404);
        return handler(record);  // outside the lock: handlers may call back into the server
    }

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<Route> routes;
    std::deque<Failure> failures;
    std::vector<RecordedRequest> records;
    LoopbackServer server;  // last: stopped first, while the state above still exists
};

RecordingServer::RecordingServer() : impl_(std::make_unique<Impl>()) {}
RecordingServer::~RecordingServer() = default;

std::string RecordingServer::base_url() const {
    return impl_->server.base_url();
}

void RecordingServer::on(std::string method, std::string path, Handler handler) {
    auto [pattern, prefix] = split_pattern(std::move(path));
    std::lock_guard lock(impl_->mutex);
    impl_->routes.push_back({std::move(method), std::move(pattern), prefix, std::move(handler)});
}

void RecordingServer::on(std::string method, std::string path, nlohmann::json canned) {
    on(std::move(method), std::move(path),
       [canned = std::move(canned)](const RecordedRequest&) { return Reply::json(canned); });
}

void RecordingServer::fail_next(std::string method, std::string path, Reply reply, int times) {
    auto [pattern, prefix] = split_pattern(std::move(path));
    std::lock_guard lock(impl_->mutex);
    for (int i = 0; i < times; ++i) impl_->failures.push_back({method, pattern, prefix, reply});
}

std::vector<RecordedRequest> RecordingServer::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->records;
}

std::vector<RecordedRequest> RecordingServer::requests(const Predicate& match) const {
    std::vector<RecordedRequest> out;
    std::lock_guard lock(impl_->mutex);
    for (const auto& record : impl_->records) {
        if (match(record)) out.push_back(record);
    }
    return out;
}

std::size_t RecordingServer::count(const Predicate& match) const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<std::size_t>(
        std::count_if(impl_->records.begin(), impl_->records.end(), match));
}

bool RecordingServer::wait_for(std::size_t n, const Predicate& match,
                               std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] {
        return static_cast<std::size_t>(
                   std::count_if(impl_->records.begin(), impl_->records.end(), match)) >= n;
    });
}

void RecordingServer::clear() {
    std::lock_guard lock(impl_->mutex);
    impl_->records.clear();
}

RecordingServer::Predicate RecordingServer::to(std::string method, std::string path) {
    return [method = std::move(method), path = std::move(path)](const RecordedRequest& r) {
        return r.method == method && r.path == path;
    };
}

RecordingServer::Predicate RecordingServer::succeeded(std::string method, std::string path) {
    return [method = std::move(method), path = std::move(path)](const RecordedRequest& r) {
        return r.method == method && r.path == path && r.status >= 200 && r.status < 300;
    };
}

}  // namespace bot::testing
