#include "bot/http/router.hpp"

#include <stdexcept>

namespace bot::http {

void Router::add(std::string method, std::string path, Handler handler, RouteOptions options) {
    bool is_prefix = path.size() >= 2 && path.ends_with("/*");
    auto& table = is_prefix ? prefix_ : exact_;
    if (is_prefix) path.resize(path.size() - 1);  // keep the trailing '/'
    auto& methods = table[path];
    if (methods.contains(method)) {
        throw std::logic_error("route " + method + " " + path + " is mounted twice");
    }
    methods.emplace(std::move(method), Route{.handler = std::move(handler), .options = options});
}

void Router::add_websocket(std::string path, WebSocketHandler handler, UpgradeCheck check,
                           RouteOptions options) {
    auto& methods = exact_[path];
    if (methods.contains("GET")) throw std::logic_error("route GET " + path + " is mounted twice");
    methods.emplace("GET", Route{.handler = {},
                                 .options = options,
                                 .websocket = std::move(handler),
                                 .check = std::move(check)});
}

const std::map<std::string, Route, std::less<>>* Router::routes_for(std::string_view path) const {
    if (auto it = exact_.find(path); it != exact_.end()) return &it->second;
    // Longest matching prefix wins.
    const std::map<std::string, Route, std::less<>>* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& [prefix, methods] : prefix_) {
        if (path.starts_with(prefix) && prefix.size() > best_length) {
            best = &methods;
            best_length = prefix.size();
        }
    }
    return best;
}

std::pair<Router::Match, const Route*> Router::find(std::string_view method,
                                                    std::string_view path) const {
    const auto* methods = routes_for(path);
    if (!methods) return {Match::no_path, nullptr};
    if (auto it = methods->find(method); it != methods->end()) return {Match::found, &it->second};
    if (method == "HEAD") {
        if (auto it = methods->find("GET"); it != methods->end())
            return {Match::found, &it->second};
    }
    return {Match::wrong_method, nullptr};
}

std::string Router::allowed_methods(std::string_view path) const {
    std::string allowed;
    if (const auto* methods = routes_for(path)) {
        for (const auto& [method, route] : *methods) {
            if (!allowed.empty()) allowed += ", ";
            allowed += method;
        }
    }
    return allowed;
}

}  // namespace bot::http
