#include "bot/log.hpp"

#include <chrono>
#include <ctime>
#include <iostream>
#include <stdexcept>

namespace bot {

LogLevel parse_log_level(std::string_view name) {
    if (name == "debug") return LogLevel::debug;
    if (name == "info") return LogLevel::info;
    if (name == "warn") return LogLevel::warn;
    if (name == "error") return LogLevel::error;
    if (name == "off") return LogLevel::off;
    throw std::invalid_argument("expected one of debug, info, warn, error, off");
}

Logger::Logger(LogLevel min_level) : Logger(min_level, std::cerr) {}
Logger::Logger(LogLevel min_level, std::ostream& out) : min_level_(min_level), out_(out) {}

void Logger::add_secret(std::string secret) {
    if (secret.size() < 4) return;
    std::lock_guard lock(mutex_);
    secrets_.push_back(std::move(secret));
}

void Logger::replace_secret(std::string_view previous, std::string secret) {
    {
        std::lock_guard lock(mutex_);
        std::erase(secrets_, previous);
    }
    add_secret(std::move(secret));
}

std::string Logger::redact(std::string line) const {
    std::lock_guard lock(mutex_);
    for (const auto& secret : secrets_) {
        for (auto pos = line.find(secret); pos != std::string::npos;
             pos = line.find(secret, pos + 3)) {
            line.replace(pos, secret.size(), "***");
        }
    }
    return line;
}

void Logger::write(LogLevel level, std::string_view component, std::string_view message) {
    if (!enabled(level)) return;
    static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(millis));
    std::string line = redact(std::string(stamp) + " " + kNames[static_cast<int>(level)] + " [" +
                              std::string(component) + "] " + std::string(message) + "\n");
    std::lock_guard lock(mutex_);
    out_ << line << std::flush;
}

}  // namespace bot
