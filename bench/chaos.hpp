// The chaos scenario: users on Telegram (webhook), http_api and the web chat at once, while the
// fake LLM fails a share of its calls, the fake Telegram Bot API fails a share of its calls,
// and contactbot is killed with SIGKILL and restarted on the same SQLite file at intervals.
// Clients retry what was not acknowledged, as the platforms do. It counts what was sent,
// answered, lost and answered twice, and the server's RSS at each minute. See README.md.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

namespace bench {

struct ChaosSpec {
    std::chrono::seconds duration{600};    // of the load; then no new messages
    std::chrono::seconds kill_every{120};  // SIGKILL and restart during the load
    std::chrono::seconds drain{240};       // after the load: for retries and recovery to finish
    int telegram_users = 12;
    int api_users = 12;
    int webchat_users = 8;
    std::chrono::milliseconds think{1000};  // most a user waits between two messages
    double llm_failures = 0.3;
    double platform_failures = 0.1;
    int server_threads = 0;
    bool keep = false;  // keep the work directory (database, server.log)
};

// Runs the scenario and prints its report; true when nothing was lost or answered twice.
bool run_chaos(const std::string& server_binary, const ChaosSpec& spec, bool markdown,
               std::ostream& out);

}  // namespace bench
