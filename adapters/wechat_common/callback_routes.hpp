// Every WeChat-family webhook is one path: GET for the console's URL check, POST for the
// callbacks, both with a small body limit (callbacks are a few hundred bytes).
#pragma once

#include "bot/http/router.hpp"

#include <string>

namespace bot::adapters::wechat {

inline void mount_callback_routes(http::Router& routes, const std::string& path,
                                  http::Handler verify_url, http::Handler callback) {
    http::RouteOptions options{.body_limit = 64 << 10};
    routes.add("GET", path, std::move(verify_url), options);
    routes.add("POST", path, std::move(callback), options);
}

}  // namespace bot::adapters::wechat
