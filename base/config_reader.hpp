// Reads one JSON config section and collects every problem as "path.to.key: reason", so an
// operator sees all mistakes at once. Readers never throw on bad values: they record the
// problem and return the default, and the caller checks ConfigErrors once at the end.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

class ConfigErrors {
public:
    void add(std::string path, std::string_view reason) {
        list_.push_back(std::move(path) + ": " + std::string(reason));
    }
    bool empty() const { return list_.empty(); }
    const std::vector<std::string>& list() const { return list_; }
    std::string joined() const;  // one problem per line

private:
    std::vector<std::string> list_;
};

// Thrown by load functions when a config has problems; what() lists them all.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(const ConfigErrors& errors)
        : std::runtime_error(errors.joined()), problems_(errors.list()) {}
    const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

class ConfigReader {
public:
    // node must outlive the reader. A null node reads as an empty object.
    ConfigReader(const nlohmann::json& node, std::string path, ConfigErrors& errors);

    const std::string& path() const { return path_; }
    std::string key_path(std::string_view key) const;
    bool has(std::string_view key) const;
    ConfigErrors& errors() const { return *errors_; }
    void problem(std::string_view key, std::string_view reason) const;

    // Required values: a missing key is reported and the type's default returned.
    std::string required_string(std::string_view key);
    // Optional values with defaults; a wrong type is reported.
    std::string string(std::string_view key, std::string fallback);
    long long integer(std::string_view key, long long fallback, long long min, long long max);
    double number(std::string_view key, double fallback);
    std::optional<double> optional_number(std::string_view key);
    bool boolean(std::string_view key, bool fallback);
    std::vector<std::string> string_list(std::string_view key);  // missing -> empty
    // "host:port" with port 0..65535; returns fallback's parts on error.
    std::pair<std::string, int> host_port(std::string_view key, std::string fallback);
    // Validated strings; an absent key gives fallback unchecked, a wrong one is reported and
    // gives fallback.
    // A path the HTTP server routes ("/wecom/corp"): starts with '/', no whitespace, control
    // characters, '?' or '#'.
    std::string url_path(std::string_view key, std::string fallback);
    // An absolute URL with one of the schemes ("http" -> "http://") and a host, no whitespace
    // or control characters; trailing '/' removed (callers append "/path"). The message lists
    // the schemes: "must be a URL: http://host or https://host".
    std::string url(std::string_view key, std::string fallback,
                    std::initializer_list<std::string_view> schemes = {"http", "https"});
    std::string ws_url(std::string_view key, std::string fallback) {
        return url(key, std::move(fallback), {"ws", "wss"});
    }

    // A nested object (missing -> empty object).
    ConfigReader object(std::string_view key);
    // Keys of this section (for maps like llm.providers or adapters).
    std::vector<std::string> keys() const;

    // Reports every key of this section that was never read.
    void done();

private:
    const nlohmann::json* lookup(std::string_view key);
    // The key's string; nullopt when absent or (reported) not a string.
    std::optional<std::string> given_string(std::string_view key);

    const nlohmann::json* node_;
    std::string path_;
    ConfigErrors* errors_;
    std::set<std::string, std::less<>> read_;
};

}  // namespace bot
