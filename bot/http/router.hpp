// Route table for the HTTP server. Adapters mount webhook routes here in their constructors;
// the server applies limits and timeouts to every route alike.
#pragma once

#include "bot/http/http_types.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace bot::http {

using Handler = std::function<net::awaitable<Response>(Request&, ResponseStream&)>;

struct RouteOptions {
    std::size_t body_limit = 0;  // 0 = the server's default limit
};

struct Route {
    Handler handler;
    RouteOptions options;
};

class Router {
public:
    // Exact path match; a path ending in "/*" matches every path below it.
    // Throws std::logic_error when the same method and path is mounted twice.
    void add(std::string method, std::string path, Handler handler, RouteOptions options = {});

    enum class Match { found, no_path, wrong_method };
    std::pair<Match, const Route*> find(std::string_view method, std::string_view path) const;

    // Allowed methods for a path, for the Allow header of a 405.
    std::string allowed_methods(std::string_view path) const;

private:
    const std::map<std::string, Route, std::less<>>* routes_for(std::string_view path) const;

    // path -> method -> route
    std::map<std::string, std::map<std::string, Route, std::less<>>, std::less<>> exact_;
    std::map<std::string, std::map<std::string, Route, std::less<>>, std::less<>> prefix_;
};

}  // namespace bot::http
