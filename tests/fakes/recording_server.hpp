// A fake platform API on loopback for adapter tests: routes by method and path to handlers
// that return canned or computed JSON, records every request (and what it was answered), lets
// a test wait for requests matching a predicate, and scripts failures (a status, a delay, a
// 429 with or without Retry-After, a dropped connection) ahead of the handlers.
//
//   RecordingServer api;
//   api.on("POST", "/v2/messages", [](const RecordedRequest& r) {
//       return Reply::json({{"id", "m-" + r.json.value("seq", "")}});
//   });
//   api.fail_next("POST", "/v2/messages", Reply::too_many_requests(std::nullopt));
//   ... point the adapter at api.base_url() ...
//   REQUIRE(api.wait_for(2, RecordingServer::to("POST", "/v2/messages")));
//
// Handlers run on the server's own thread, one at a time; they may keep state of their own
// without a lock when only they touch it.
#pragma once

#include "bot/http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::testing {

// What a handler or a scripted failure answers.
struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<http::Header> headers;
    std::chrono::milliseconds delay{0};  // waited before answering (timeouts, slow peers)
    bool drop = false;                   // close the connection without answering

    static Reply json(const nlohmann::json& body, int status = 200);
    static Reply text(std::string body, int status = 200);
    static Reply status_only(int status);  // an empty JSON object with that status
    // 429, with "Retry-After: <seconds>" when given.
    static Reply too_many_requests(std::optional<int> retry_after_seconds);
    static Reply dropped();
    Reply&& after(std::chrono::milliseconds wait) && {
        delay = wait;
        return std::move(*this);
    }
};

struct RecordedRequest {
    std::string method;
    std::string path;
    std::string query;  // raw, after '?'
    std::vector<http::Header> headers;
    std::string body;
    nlohmann::json json;  // the body parsed; discarded (is_discarded()) when not JSON
    // What it was answered (a scripted failure or the handler's reply).
    int status = 0;
    nlohmann::json response;  // the answer's body parsed, discarded when not JSON
    bool scripted = false;    // answered by fail_next, not by the handler

    std::string_view header(std::string_view name) const;
    std::optional<std::string> query_param(std::string_view name) const;
};

class RecordingServer {
public:
    using Handler = std::function<Reply(const RecordedRequest&)>;
    using Predicate = std::function<bool(const RecordedRequest&)>;

    RecordingServer();
    ~RecordingServer();
    RecordingServer(const RecordingServer&) = delete;
    RecordingServer& operator=(const RecordingServer&) = delete;

    std::string base_url() const;  // "http://127.0.0.1:<port>"

    // Routes may be added at any time. path is exact, or ends in "/*" for everything below it
    // (the longest prefix wins). A request no route takes gets 404 {"error":"no route"}.
    void on(std::string method, std::string path, Handler handler);
    // The same JSON to every request.
    void on(std::string method, std::string path, nlohmann::json canned);

    // The next `times` requests to (method, path) (matched like on()) get reply instead of
    // their handler; calls queue up in order.
    void fail_next(std::string method, std::string path, Reply reply, int times = 1);

    // Every request so far, oldest first (complete once answered).
    std::vector<RecordedRequest> requests() const;
    std::vector<RecordedRequest> requests(const Predicate& match) const;
    std::size_t count(const Predicate& match) const;
    // true once at least n answered requests match; false after timeout.
    bool wait_for(std::size_t n, const Predicate& match,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    void clear();

    // Predicates: requests to (method, path) exactly; and, in addition, answered with 2xx.
    static Predicate to(std::string method, std::string path);
    static Predicate succeeded(std::string method, std::string path);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
