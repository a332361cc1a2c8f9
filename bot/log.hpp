// Leveled, thread-safe logger. Every line names its component; registered secrets
// (API keys, tokens) are replaced by "***" before anything is written.
#pragma once

#include <iosfwd>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

enum class LogLevel { debug, info, warn, error, off };

LogLevel parse_log_level(std::string_view name);  // throws std::invalid_argument

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

    void write(LogLevel level, std::string_view component, std::string_view message);

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
    LogLevel min_level_;
    std::ostream& out_;
    mutable std::mutex mutex_;
    std::vector<std::string> secrets_;
};

}  // namespace bot
