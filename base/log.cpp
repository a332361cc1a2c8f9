#include "base/log.hpp"

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

void append_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte != 0x7f) {
            // U+0080..U+009F (C1 controls: some terminals obey them) are C2 80..C2 9F in UTF-8.
            const bool c1 = byte == 0xc2 && i + 1 < text.size() &&
                            static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                            static_cast<unsigned char>(text[i + 1]) <= 0x9f;
            if (!c1) {
                out.push_back(text[i]);
                continue;
            }
            const auto code = static_cast<unsigned char>(text[++i]);
            out.append("\\u00").push_back(kHex[code >> 4]);
            out.push_back(kHex[code & 0xf]);
            continue;
        }
        switch (byte) {
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            default:
                out.append("\\x").push_back(kHex[byte >> 4]);
                out.push_back(kHex[byte & 0xf]);
        }
    }
}

namespace {

constexpr const char* kLevelNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
constexpr std::size_t kMaxShapes = 4096;  // per window; past it only the component's budget
constexpr std::size_t kShapeBytes = 64;

// Lines from one call site differ in their numbers (addresses, ids, counts) far more often
// than in their words: the shape is the start of the message without its digits.
std::string shape_key(LogLevel level, std::string_view component, std::string_view message) {
    std::string key(1, static_cast<char>('0' + static_cast<int>(level)));
    key.append(component).push_back('\x1f');
    for (char c : message) {
        if (c >= '0' && c <= '9') continue;
        key.push_back(c);
        if (key.size() >= component.size() + 2 + kShapeBytes) break;
    }
    return key;
}

}  // namespace

std::string Logger::redact(std::string line) const {
    std::lock_guard lock(mutex_);
    return redact_locked(std::move(line));
}

std::string Logger::redact_locked(std::string line) const {
    for (const auto& secret : secrets_) {
        for (auto pos = line.find(secret); pos != std::string::npos;
             pos = line.find(secret, pos + 3)) {
            line.replace(pos, secret.size(), "***");
        }
    }
    return line;
}

void Logger::set_throttle(LogThrottle throttle) {
    std::lock_guard lock(mutex_);
    throttle_ = throttle;
}

std::string Logger::stamped(LogLevel level, std::string_view component,
                            std::string_view message) const {
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(millis));
    std::string line(stamp);
    line.append(kLevelNames[static_cast<int>(level)]).append(" [").append(component).append("] ");
    append_escaped(line, message);
    line.push_back('\n');
    return line;
}

bool Logger::admit(LogLevel level, std::string_view component, std::string_view message) {
    if (throttle_.lines_per_shape == 0) return true;
    std::string key = shape_key(level, component, message);
    auto found = shapes_.find(key);
    if (found == shapes_.end() && shapes_.size() < kMaxShapes) {
        found = shapes_.emplace(std::move(key), Suppressed{}).first;
    }
    auto refuse = [&](Suppressed& counter) {
        if (counter.dropped++ == 0) {
            counter.level = level;
            counter.component = component;
            // Redacted before it is cut: a secret across the cut would no longer match.
            counter.sample = redact_locked(std::string(message)).substr(0, 200);
        }
        return false;
    };
    if (found != shapes_.end() && found->second.written >= throttle_.lines_per_shape)
        return refuse(found->second);
    // Errors are not held to the component's budget: warnings a client provokes in the same
    // component must not hide them (each error shape still has its own limit).
    auto& whole = components_[std::string(component)];
    if (level < LogLevel::error && whole.written >= throttle_.lines_per_component)
        return refuse(whole);
    if (found != shapes_.end()) ++found->second.written;
    ++whole.written;
    return true;
}

std::string Logger::roll_window(std::chrono::steady_clock::time_point now) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - window_start_);
    std::string summaries;
    auto summarise = [&](const Suppressed& counter, const char* what) {
        if (counter.dropped == 0) return;
        summaries +=
            stamped(counter.level, counter.component,
                    std::to_string(counter.dropped) + " " + what + " suppressed in the last " +
                        std::to_string(seconds.count()) + " s; the first: " + counter.sample);
    };
    for (const auto& [key, counter] : shapes_) summarise(counter, "lines like this");
    for (const auto& [key, counter] : components_) summarise(counter, "lines of this component");
    shapes_.clear();
    components_.clear();
    window_start_ = now;
    return summaries;
}

void Logger::write(LogLevel level, std::string_view component, std::string_view message) {
    if (!enabled(level)) return;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    std::string out;
    if (now - window_start_ >= throttle_.window) out = roll_window(now);
    if (admit(level, component, message)) out += stamped(level, component, message);
    if (out.empty()) return;
    out_ << redact_locked(std::move(out)) << std::flush;
}

void Logger::flush_suppressed() {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (now - window_start_ < throttle_.window) return;
    std::string out = roll_window(now);
    if (!out.empty()) out_ << redact_locked(std::move(out)) << std::flush;
}

}  // namespace bot
