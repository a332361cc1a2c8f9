// An HTTP server on 127.0.0.1 (a free port) with its own io_context thread, for the fakes of
// external services: mount routes in the callback, call base_url().
#pragma once

#include "bot/http/router.hpp"

#include <functional>
#include <memory>
#include <string>

namespace bot::testing {

class LoopbackServer {
public:
    explicit LoopbackServer(const std::function<void(http::Router&)>& mount);
    ~LoopbackServer();
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    std::string base_url() const;  // "http://127.0.0.1:<port>"

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bot::testing
