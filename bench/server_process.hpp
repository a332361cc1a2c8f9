// The contactbot under test: a real child process with a generated config in its own
// directory (fresh database), watched through /proc while the load runs.
#pragma once

#include "bench/load.hpp"

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

namespace bench {

inline constexpr const char* kApiToken = "bench-token-0123456789abcdef";
inline constexpr const char* kSecretToken = "bench-secret-123";
inline constexpr const char* kTelegramAdapter = "tg";
inline constexpr const char* kIlinkAdapter = "wx";
inline constexpr const char* kOnebotAdapter = "qq";  // route /onebot/qq
inline constexpr const char* kFeishuAdapter = "fs";
inline constexpr const char* kDingtalkAdapter = "dt";
inline constexpr const char* kDingtalkClientId = "dingbench01";
inline constexpr const char* kSlackAdapter = "sl";
inline constexpr const char* kSlackBotToken = "xoxb-bench-0001";
inline constexpr const char* kSlackAppToken = "xapp-1-bench-0001";
inline constexpr const char* kDiscordAdapter = "dc";

struct ServerSettings {
    std::filesystem::path dir;  // config, database and log go here
    std::uint16_t port = 0;
    int threads = 0;             // server.threads; 0 = one per core but one
    Path path = Path::http_api;  // which adapter to configure
    std::string llm_base_url;
    std::string telegram_api_base;
    std::string telegram_token;
    std::string ilink_api_base;
    std::string feishu_domain;      // feishu: the fake's base URL
    std::string dingtalk_api_base;  // dingtalk: the fake's base URL (API and session webhooks)
    std::string slack_api_base;     // slack: the fake's Web API (".../api")
    std::string discord_api_base;   // discord: the fake's api_base (".../api/v10")
    int llm_concurrency = 0;        // llm max_concurrency; 0 = contactbot's default
    bool stream = false;            // telegram: live replies ("streaming": "auto"), else "off"
    // Long-term memory (issue 24) as by default; false: all of it off.
    bool memory = true;
    // A summary due every 8 unsummarised turns, so that summaries run at these scales (20
    // messages per user; by default the first comes after 50 exchanges).
    bool summary_every_8_turns = false;
    std::string config_json;  // written instead of make_config's text when not empty
};

// A fresh directory per point (config, database, server log); kept when the point failed.
class WorkDir {
public:
    WorkDir();
    ~WorkDir();
    WorkDir(const WorkDir&) = delete;
    WorkDir& operator=(const WorkDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    void keep() { keep_ = true; }

private:
    std::filesystem::path path_;
    bool keep_ = false;
};

// The config file text (JSON) for these settings.
std::string make_config(const ServerSettings& settings);
// A loopback port nobody listens on right now.
std::uint16_t free_port();

struct ProcStats {
    long hwm_kb = 0;          // VmHWM: peak resident set since start
    long rss_kb = 0;          // VmRSS: resident now
    long anon_kb = 0;         // RssAnon: of it, anonymous memory (the heap, stacks)
    long threads = 0;         // Threads
    double cpu_s = 0;         // utime + stime
    double kernel_cpu_s = 0;  // stime: system calls, the loopback TCP stack, page faults
};
ProcStats read_proc_stats(pid_t pid);
// This process's user + system CPU seconds (the generator and the fakes).
double own_cpu_seconds();

class ServerProcess {
public:
    // Writes the config and starts `binary run --config ...`, output appended to server.log
    // (a restart in the same directory keeps the earlier runs' lines).
    ServerProcess(const std::string& binary, const ServerSettings& settings);
    ~ServerProcess();  // kills the server if it still runs
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Waits until GET /readyz answers 200; throws (with the log's tail) when the server
    // exits or the timeout passes.
    void wait_ready(std::chrono::seconds timeout);
    // SIGTERM, then waits (SIGKILL after timeout). Returns the exit status, or -signal.
    int stop(std::chrono::seconds timeout);
    // SIGKILL at once (a crash or the OOM killer), and reaped.
    void kill();
    std::string log_tail(std::size_t max_lines = 20) const;

private:
    bool exited(int& status);

    std::filesystem::path log_path_;
    std::uint16_t port_;
    pid_t pid_ = -1;
};

// Samples a process's thread count every 100 ms on its own thread (peak memory comes from the
// kernel's VmHWM at the end).
class Sampler {
public:
    explicit Sampler(pid_t pid);
    ~Sampler();
    long peak_threads() const { return peak_threads_.load(); }

private:
    std::atomic<long> peak_threads_{0};
    std::jthread thread_;
};

}  // namespace bench
