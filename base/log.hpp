// Leveled, thread-safe logger. Every line names its component; registered secrets
// (API keys, tokens) are replaced by "***" and control characters escaped before anything is
// written, so no value from the network can forge a line. Lines of the same shape are throttled:
// past a few per minute they are counted, and the count is written once the minute is over.
#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bot {

enum class LogLevel { debug, info, warn, error, off };

LogLevel parse_log_level(std::string_view name);  // throws std::invalid_argument

// Control characters (C0, DEL, C1) as \n, \r, \t or \xNN / \u00NN; other bytes as they are.
void append_escaped(std::string& out, std::string_view text);

struct LogThrottle {
    // Lines of one shape (level, component, the message without its digits) written per
    // window; 0 = no throttling. Further ones are counted, not written.
    std::size_t lines_per_shape = 20;
    // Lines per window of one component whatever their shape: a client who varies the text
    // (an Origin header, a user id) still cannot flood the log.
    std::size_t lines_per_component = 300;
    std::chrono::steady_clock::duration window = std::chrono::minutes(1);
};

class Logger {
public:
    explicit Logger(LogLevel min_level = LogLevel::info);
    Logger(LogLevel min_level, std::ostream& out);

    void set_level(LogLevel level) { min_level_ = level; }
    bool enabled(LogLevel level) const { return level >= min_level_; }

    // Secrets shorter than 4 characters are not registered: redacting them would mangle logs.
    void add_secret(std::string secret);
    // For secrets that rotate (access tokens): previous is no longer kept, secret is.
    void replace_secret(std::string_view previous, std::string secret);
    std::string redact(std::string line) const;

    void set_throttle(LogThrottle throttle);

    void write(LogLevel level, std::string_view component, std::string_view message);
    // Writes the counts of lines suppressed in a window that has ended (write() does it too,
    // at the first line after the window).
    void flush_suppressed();

    template <class... Args>
    void log(LogLevel level, std::string_view component, const Args&... args) {
        if (!enabled(level)) return;
        std::ostringstream text;
        (text << ... << args);
        write(level, component, text.str());
    }
    template <class... Args>
    void debug(std::string_view component, const Args&... args) {
        log(LogLevel::debug, component, args...);
    }
    template <class... Args>
    void info(std::string_view component, const Args&... args) {
        log(LogLevel::info, component, args...);
    }
    template <class... Args>
    void warn(std::string_view component, const Args&... args) {
        log(LogLevel::warn, component, args...);
    }
    template <class... Args>
    void error(std::string_view component, const Args&... args) {
        log(LogLevel::error, component, args...);
    }

private:
    struct Suppressed {
        LogLevel level = LogLevel::warn;
        std::size_t written = 0;
        std::size_t dropped = 0;
        std::string component, sample;  // of the first line dropped, for the summary
    };
    // Under mutex_: false when the line is to be dropped.
    bool admit(LogLevel level, std::string_view component, std::string_view message);
    // Under mutex_: the summaries of the window that ended, and a new window.
    std::string roll_window(std::chrono::steady_clock::time_point now);
    std::string redact_locked(std::string line) const;
    std::string stamped(LogLevel level, std::string_view component, std::string_view message) const;

    LogLevel min_level_;
    std::ostream& out_;
    mutable std::mutex mutex_;
    std::vector<std::string> secrets_;
    LogThrottle throttle_;
    std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
    std::unordered_map<std::string, Suppressed> shapes_;      // key: level, component, shape
    std::unordered_map<std::string, Suppressed> components_;  // key: component
};

}  // namespace bot
