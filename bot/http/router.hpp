// Route table for the HTTP server. Adapters mount webhook routes here in their constructors;
// the server applies limits and timeouts to every route alike.
#pragma once

#include "bot/http/http_types.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bot::http {

using Handler = std::function<net::awaitable<Response>(Request&, ResponseStream&)>;

// A websocket connection lent to a route handler (text messages). Shared, so coroutines that
// outlive the handler (a reply still streaming) can keep sending until it closes.
class WebSocket {
public:
    virtual ~WebSocket() = default;
    // The next text message; nullopt once the connection is closed (by the peer, an error, a
    // size limit, the server shutting down, or close()). One reader at a time.
    virtual net::awaitable<std::optional<std::string>> read() = 0;
    // Queues a text message; thread-safe, never blocks, sent in order. Dropped once closed.
    virtual void send(std::string text) = 0;
    // Closes with a policy-violation status and the reason; thread-safe.
    virtual void close(std::string reason) = 0;
    virtual bool is_open() const = 0;
    virtual const Request& request() const = 0;  // the upgrade request
};

using WebSocketHandler = std::function<net::awaitable<void>(std::shared_ptr<WebSocket>)>;
// Looks at a request's head (its body is not read yet): a Response here refuses it.
using RequestCheck = std::function<std::optional<Response>(const Request&)>;
// Runs before the upgrade: a Response here refuses it (for example 403 for a foreign Origin).
using UpgradeCheck = RequestCheck;

struct RouteOptions {
    std::size_t body_limit = 0;          // 0 = the server's default limit
    std::size_t max_message = 64 << 10;  // websocket routes: largest message accepted
    // Routes that authenticate by a header check it here, before the body is read: a client
    // without credentials then costs neither the body's memory nor its transfer. The
    // handler is still called with the whole request when this lets it through.
    RequestCheck authorize;
};

struct Route {
    Handler handler;  // plain HTTP routes
    RouteOptions options;
    WebSocketHandler websocket;  // websocket routes (GET with Upgrade: websocket)
    UpgradeCheck check;
};

class Router {
public:
    // Exact path match; a path ending in "/*" matches every path below it.
    // Throws std::logic_error when the same method and path is mounted twice.
    void add(std::string method, std::string path, Handler handler, RouteOptions options = {});
    // A websocket endpoint at path (GET + Upgrade). A plain GET there gets 426.
    void add_websocket(std::string path, WebSocketHandler handler, UpgradeCheck check = {},
                       RouteOptions options = {});

    // Pages people may want to reach from the bot's other pages (the web chat lists them):
    // label and a path on this server.
    struct PageLink {
        std::string label;
        std::string path;
    };
    void add_link(std::string label, std::string path) {
        links_.push_back({std::move(label), std::move(path)});
    }
    const std::vector<PageLink>& links() const { return links_; }

    enum class Match { found, no_path, wrong_method };
    std::pair<Match, const Route*> find(std::string_view method, std::string_view path) const;

    // Allowed methods for a path, for the Allow header of a 405.
    std::string allowed_methods(std::string_view path) const;

private:
    std::vector<PageLink> links_;
    const std::map<std::string, Route, std::less<>>* routes_for(std::string_view path) const;

    // path -> method -> route
    std::map<std::string, std::map<std::string, Route, std::less<>>, std::less<>> exact_;
    std::map<std::string, std::map<std::string, Route, std::less<>>, std::less<>> prefix_;
};

}  // namespace bot::http
