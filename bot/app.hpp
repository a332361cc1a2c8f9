// The composition root: builds storage, the LLM backend, the core and the adapters from a
// Config, runs them on one io_context, and shuts them down gracefully. main.cpp, `chat` and
// the integration tests all use it, so every path runs the same pipeline.
#pragma once

#include "bot/adapter.hpp"
#include "bot/config.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace bot {

class Logger;

struct AppOptions {
    bool listen = true;  // false: no HTTP server (terminal chat)
};

class App {
public:
    // Opens the database and builds everything; throws ConfigError / std::runtime_error.
    App(Config config, Logger& log, AppOptions options = {});
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Validates the adapter sections without opening the database or binding a port; adds
    // every problem to errors.
    static void validate(const Config& config, ConfigErrors& errors);

    // Adds an adapter built by the caller (the terminal chat); before start().
    void add_adapter(const std::string& id, std::unique_ptr<Adapter> adapter);

    // Binds the listener, starts the worker threads, adapters and start-up recovery.
    void start();
    std::uint16_t port() const;
    InboundSink& sink();
    net::any_io_executor executor();

    // Blocks until SIGINT or SIGTERM, then shuts down.
    void run_until_signal();
    // Stops accepting, lets in-flight messages finish (up to server.shutdown_grace_s; the rest
    // stay in the inbox for the next start), stops threads, closes the database. Idempotent.
    void shutdown();

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace bot
