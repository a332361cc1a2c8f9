// A blocking websocket client for tests (Beast, synchronous): a browser stand-in.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace bot::testing {

class WsClient {
public:
    // Connects to ws://127.0.0.1:port{path}; origin, when set, is sent as the Origin header.
    WsClient(unsigned short port, const std::string& path, const std::string& origin = {});
    ~WsClient();

    void send(const nlohmann::json& frame);
    void send_text(const std::string& text);
    // The next frame, or nullopt when the connection closed or timeout passed.
    std::optional<nlohmann::json> next(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Frames until one with the given type (and id, when non-empty); that one is last.
    std::vector<nlohmann::json> until(const std::string& type, const std::string& id = {});
    void close();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Status of a refused upgrade (e.g. 403), or 101 when it was accepted.
int upgrade_status(unsigned short port, const std::string& path, const std::string& origin);

}  // namespace bot::testing
