#include "bench/server_process.hpp"

#include "fakes/test_http.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace bench {

using nlohmann::json;

WorkDir::WorkDir() {
    std::string pattern = "/tmp/contactbot-bench-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

WorkDir::~WorkDir() {
    std::error_code ignored;
    if (!keep_) std::filesystem::remove_all(path_, ignored);
}

std::string make_config(const ServerSettings& s) {
    json adapters = json::object();
    if (s.path == Path::http_api) {
        adapters["api"] = {{"type", "http_api"}, {"token", kApiToken}};
    } else if (s.path == Path::onebot) {
        adapters[kOnebotAdapter] = {{"type", "onebot"}, {"access_token", kSecretToken}};
    } else if (s.path == Path::feishu) {
        // The fake's credentials (tests/fakes/fake_feishu.hpp); text replies, as Telegram's
        // throughput points stream nothing either.
        adapters[kFeishuAdapter] = {{"type", "feishu"},
                                    {"app_id", "cli_a1b2c3d4e5f60718"},
                                    {"app_secret", "feishu-app-secret-0123456789"},
                                    {"domain", s.feishu_domain},
                                    {"streaming", s.stream ? "card" : "off"}};
    } else if (s.path == Path::dingtalk) {
        adapters[kDingtalkAdapter] = {{"type", "dingtalk"},
                                      {"client_id", kDingtalkClientId},
                                      {"client_secret", kSecretToken},
                                      {"api_base", s.dingtalk_api_base},
                                      {"webhook_base", s.dingtalk_api_base}};
    } else if (s.path == Path::slack) {
        // Socket Mode; whole replies, as Telegram's throughput points stream nothing either.
        adapters[kSlackAdapter] = {{"type", "slack"},
                                   {"bot_token", kSlackBotToken},
                                   {"app_token", kSlackAppToken},
                                   {"api_base", s.slack_api_base},
                                   {"streaming", s.stream ? "update" : "off"}};
    } else if (s.path == Path::discord) {
        // The fake's token (tests/fakes/fake_discord.hpp); no typing, and edits only for
        // streamed points.
        adapters[kDiscordAdapter] = {{"type", "discord"},
                                     {"bot_token", "MTEwMDAw.fake-discord.bot-token-0123456789"},
                                     {"api_base", s.discord_api_base},
                                     {"typing", false},
                                     {"streaming", s.stream}};
    } else if (s.path == Path::ilink) {
        adapters[kIlinkAdapter] = {
            {"type", "wechat_ilink"}, {"api_base", s.ilink_api_base}, {"typing", false}};
    } else {
        adapters[kTelegramAdapter] = {{"type", "telegram"},
                                      {"bot_token", s.telegram_token},
                                      {"mode", "webhook"},
                                      {"webhook_url", "https://bench.invalid/telegram/tg"},
                                      {"secret_token", kSecretToken},
                                      {"api_base", s.telegram_api_base},
                                      {"typing", false},
                                      {"streaming", s.stream ? "auto" : "off"}};
    }
    json config = {
        {"server",
         {{"listen", std::string("127.0.0.1:").append(std::to_string(s.port))},
          {"threads", s.threads},
          // The generator keeps its connections open for the whole run; thousands of them.
          {"max_connections", 100000},
          // All of them from 127.0.0.1.
          {"max_connections_per_address", 100000},
          {"max_websockets_per_address", 100000},
          {"header_timeout_s", 60},
          {"read_timeout_s", 120},
          {"idle_timeout_s", 600},
          {"shutdown_grace_s", 10}}},
        {"storage", {{"sqlite", {{"path", (s.dir / "bot.db").string()}}}}},
        {"bot", {{"persona", "You are a load test."}}},
        {"llm",
         {{"default", "fake"},
          {"providers",
           {{"fake",
             {{"type", "openai"},
              {"base_url", s.llm_base_url},
              {"model", "fake"},
              {"timeout_s", 60},
              {"retries", 0}}}}}}},
        {"log", {{"level", "warn"}}},
        {"adapters", adapters}};
    // Throughput raises it to 1,000 (an instant self-hosted model takes what the load offers);
    // the in-flight scenario to one per conversation, to hold every LLM call open at once.
    if (s.llm_concurrency > 0) {
        config["llm"]["providers"]["fake"]["max_concurrency"] = s.llm_concurrency;
    }
    if (s.summary_every_8_turns) {
        config["memory"] = {{"summary", {{"after_turns", 8}}}};
    } else if (!s.memory) {
        config["memory"] = {{"summary", {{"enabled", false}}},
                            {"facts", {{"enabled", false}}},
                            {"recall", {{"enabled", false}}}};
    }
    return config.dump(2);
}

std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot find a free port");
    return ntohs(address.sin_port);
}

double own_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

ProcStats read_proc_stats(pid_t pid) {
    ProcStats stats;
    std::string base = std::string("/proc/").append(std::to_string(pid));
    std::ifstream status(base + "/status");
    std::string line;
    while (std::getline(status, line)) {
        auto value = [&] { return std::atol(line.c_str() + line.find(':') + 1); };
        if (line.starts_with("VmHWM:")) stats.hwm_kb = value();
        if (line.starts_with("VmRSS:")) stats.rss_kb = value();
        if (line.starts_with("RssAnon:")) stats.anon_kb = value();
        if (line.starts_with("Threads:")) stats.threads = value();
    }
    // /proc/<pid>/stat: the command name may hold spaces, so count fields after its ')'.
    std::ifstream stat_file(base + "/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    auto close_paren = stat.rfind(')');
    if (close_paren != std::string::npos) {
        std::istringstream fields(stat.substr(close_paren + 1));
        std::vector<std::string> parts;
        for (std::string part; fields >> part;) parts.push_back(part);
        // parts[0] is field 3 (state); utime and stime are fields 14 and 15.
        if (parts.size() > 12) {
            double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
            stats.kernel_cpu_s = std::stod(parts[12]) / ticks;
            stats.cpu_s = std::stod(parts[11]) / ticks + stats.kernel_cpu_s;
        }
    }
    return stats;
}

ServerProcess::ServerProcess(const std::string& binary, const ServerSettings& settings)
    : log_path_(settings.dir / "server.log"), port_(settings.port) {
    auto config_path = settings.dir / "contactbot.json";
    std::ofstream(config_path) << (settings.config_json.empty() ? make_config(settings)
                                                                : settings.config_json);

    // Everything the child needs is prepared before fork: after it, only async-signal-safe
    // calls are allowed (the bench has other threads).
    std::vector<std::string> args{binary, "run", "--config", config_path.string()};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::string log = log_path_.string();

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a killed bench
        int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        int in = ::open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0) ::_exit(126);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::closefrom(3);  // not the fakes' sockets: Asio does not open them close-on-exec
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

ServerProcess::~ServerProcess() {
    kill();
}

void ServerProcess::kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

bool ServerProcess::exited(int& status) {
    int raw = 0;
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, &raw, WNOHANG) != pid_) return false;
    pid_ = -1;
    status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -WTERMSIG(raw);
    return true;
}

void ServerProcess::wait_ready(std::chrono::seconds timeout) {
    std::string url =
        std::string("http://127.0.0.1:").append(std::to_string(port_)).append("/readyz");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (exited(status)) {
            throw std::runtime_error(std::string("contactbot exited with status ")
                                         .append(std::to_string(status))
                                         .append(" before it was ready:\n")
                                         .append(log_tail()));
        }
        try {
            if (bot::testing::http_request("GET", url, {}, {}, 1000).status == 200) return;
        } catch (const std::exception&) {
            // not listening yet
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error(std::string("contactbot was not ready in time:\n").append(log_tail()));
}

int ServerProcess::stop(std::chrono::seconds timeout) {
    int status = 0;
    if (exited(status)) return status;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (exited(status)) return status;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    int raw = 0;
    ::waitpid(pid_, &raw, 0);
    pid_ = -1;
    return -SIGKILL;
}

std::string ServerProcess::log_tail(std::size_t max_lines) const {
    std::ifstream file(log_path_);
    std::deque<std::string> lines;
    for (std::string line; std::getline(file, line);) {
        lines.push_back(line);
        if (lines.size() > max_lines) lines.pop_front();
    }
    std::string out;
    for (const auto& line : lines) out.append("  | ").append(line).append("\n");
    return out;
}

Sampler::Sampler(pid_t pid)
    : thread_([this, pid](std::stop_token stop) {
          while (!stop.stop_requested()) {
              auto stats = read_proc_stats(pid);
              if (stats.threads > peak_threads_) peak_threads_ = stats.threads;
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
      }) {}

Sampler::~Sampler() = default;

}  // namespace bench
