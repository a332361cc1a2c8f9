// Runs the real App (HTTP server, SQLite file, dispatcher, pipeline) against a FakeLlm, with the
// http_api adapter, and talks to it over loopback.
#pragma once

#include "base/log.hpp"
#include "bot/app.hpp"
#include "bot/config.hpp"
#include "fakes/fake_llm.hpp"
#include "fakes/test_http.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

namespace bot::testing {

inline constexpr const char* kToken = "test-token-0123456789";

// A fresh directory under /tmp, removed at the end.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

struct BotOptions {
    int llm_timeout_s = 5;
    int llm_retries = 1;
    int queue_limit = 8;
    int context_tokens = 8192;
    bool with_llm = true;
    int shutdown_grace_s = 5;
    int header_timeout_s = 10;
    int webchat_per_minute = 600;
    int threads = 2;                                     // server.threads; 1 runs without strands
    std::function<void(App&)> before_start;              // e.g. add a FakeAdapter
    nlohmann::json adapters = nlohmann::json::object();  // more adapter sections (id -> section)
    std::string persona = "You are a test bot.";
    std::function<void(nlohmann::json&)> edit_config;  // last changes to the config JSON
};

class TestBot {
public:
    TestBot(FakeLlm& llm, const std::filesystem::path& dir, BotOptions options = {});
    ~TestBot();

    std::string url(const std::string& path) const;
    // POST /api/v1/messages; returns the status and parsed JSON body.
    std::pair<long, nlohmann::json> send(const std::string& user, const std::string& text,
                                         const std::string& message_id = {},
                                         const std::string& chat = {});
    TestResponse send_raw(const std::string& body, const std::vector<std::string>& headers);

    App& app() { return *app_; }
    void stop() { app_.reset(); }
    std::string log_text() const;
    // Submits through the core directly (for adapters without an HTTP route) and waits for
    // the reply event.
    ReplyEvent submit(Inbound inbound, std::chrono::milliseconds wait = std::chrono::seconds(10));
    // Submits without watching the reply: accepted, duplicate or ignored.
    Submission::Status offer(Inbound inbound);

private:
    std::ostringstream log_stream_;
    Logger log_;
    std::unique_ptr<App> app_;
    std::filesystem::path dir_;
};

// Polls condition (state another thread changes) until it holds or limit passes.
template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
}

Config make_config(const std::string& llm_base_url, const std::filesystem::path& dir,
                   const BotOptions& options);

}  // namespace bot::testing
