#include "base/config_reader.hpp"

namespace bot {

namespace {
const nlohmann::json& empty_object() {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    return kEmpty;
}

bool has_space_or_control(std::string_view text) {
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f) return true;
    }
    return false;
}
}  // namespace

std::string ConfigErrors::joined() const {
    std::string out;
    for (const auto& line : list_) out += line + "\n";
    return out;
}

ConfigReader::ConfigReader(const nlohmann::json& node, std::string path, ConfigErrors& errors)
    : node_(node.is_null() ? &empty_object() : &node), path_(std::move(path)), errors_(&errors) {}

std::string ConfigReader::key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool ConfigReader::has(std::string_view key) const {
    return node_->is_object() && node_->contains(key);
}

void ConfigReader::problem(std::string_view key, std::string_view reason) const {
    errors_->add(key_path(key), reason);
}

const nlohmann::json* ConfigReader::lookup(std::string_view key) {
    read_.emplace(key);
    if (!node_->is_object()) return nullptr;
    auto it = node_->find(key);
    return it == node_->end() ? nullptr : &*it;
}

std::string ConfigReader::required_string(std::string_view key) {
    const auto* value = lookup(key);
    if (!value) {
        problem(key, "required");
        return {};
    }
    if (!value->is_string()) {
        problem(key, "must be a string");
        return {};
    }
    return value->get<std::string>();
}

std::optional<std::string> ConfigReader::given_string(std::string_view key) {
    const auto* value = lookup(key);
    if (!value) return std::nullopt;
    if (!value->is_string()) {
        problem(key, "must be a string");
        return std::nullopt;
    }
    return value->get<std::string>();
}

std::string ConfigReader::string(std::string_view key, std::string fallback) {
    auto value = given_string(key);
    return value ? std::move(*value) : std::move(fallback);
}

long long ConfigReader::integer(std::string_view key, long long fallback, long long min,
                                long long max) {
    const auto* value = lookup(key);
    if (!value) return fallback;
    if (!value->is_number_integer()) {
        problem(key, "must be an integer");
        return fallback;
    }
    auto n = value->get<long long>();
    if (n < min || n > max) {
        problem(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return fallback;
    }
    return n;
}

double ConfigReader::number(std::string_view key, double fallback) {
    auto value = optional_number(key);
    return value ? *value : fallback;
}

std::optional<double> ConfigReader::optional_number(std::string_view key) {
    const auto* value = lookup(key);
    if (!value) return std::nullopt;
    if (!value->is_number()) {
        problem(key, "must be a number");
        return std::nullopt;
    }
    return value->get<double>();
}

bool ConfigReader::boolean(std::string_view key, bool fallback) {
    const auto* value = lookup(key);
    if (!value) return fallback;
    if (!value->is_boolean()) {
        problem(key, "must be true or false");
        return fallback;
    }
    return value->get<bool>();
}

std::vector<std::string> ConfigReader::string_list(std::string_view key) {
    const auto* value = lookup(key);
    std::vector<std::string> out;
    if (!value) return out;
    bool valid = value->is_array();
    if (valid) {
        for (const auto& item : *value) {
            if (!item.is_string()) {
                valid = false;
                break;
            }
            out.push_back(item.get<std::string>());
        }
    }
    if (!valid) {
        problem(key, "must be an array of strings");
        out.clear();
    }
    return out;
}

std::pair<std::string, int> ConfigReader::host_port(std::string_view key, std::string fallback) {
    auto split = [](const std::string& text) -> std::optional<std::pair<std::string, int>> {
        auto colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0) return std::nullopt;
        std::string host = text.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);  // [::1]:8080
        }
        std::string port = text.substr(colon + 1);
        if (port.empty() || port.size() > 5 ||
            port.find_first_not_of("0123456789") != std::string::npos) {
            return std::nullopt;
        }
        int n = std::stoi(port);
        if (n > 65535) return std::nullopt;
        return std::pair{host, n};
    };
    auto text = string(key, fallback);
    if (auto parts = split(text)) return *parts;
    problem(key, "must be host:port, e.g. \"127.0.0.1:8080\"");
    return *split(fallback);
}

std::string ConfigReader::url_path(std::string_view key, std::string fallback) {
    auto given = given_string(key);
    if (!given) return fallback;
    std::string& text = *given;
    if (!text.starts_with('/')) {
        problem(key, "must start with '/'");
        return fallback;
    }
    if (has_space_or_control(text) || text.find_first_of("?#") != std::string::npos) {
        problem(key, "must be a plain path (no spaces, '?' or '#')");
        return fallback;
    }
    return text;
}

std::string ConfigReader::url(std::string_view key, std::string fallback,
                              std::initializer_list<std::string_view> schemes) {
    auto given = given_string(key);
    if (!given) return fallback;
    std::string& text = *given;
    bool valid = !has_space_or_control(text);
    if (valid) {
        valid = false;
        for (auto scheme : schemes) {
            std::string prefix = std::string(scheme) + "://";
            if (text.starts_with(prefix)) {
                // A host: something before the path, query or fragment.
                auto host = std::string_view(text).substr(prefix.size());
                valid = !host.empty() && host.find_first_of("/?#") != 0;
                break;
            }
        }
    }
    if (!valid) {
        std::string listed;
        for (auto scheme : schemes) {
            listed.append(listed.empty() ? "" : " or ").append(scheme).append("://host");
        }
        problem(key, "must be a URL: " + listed);
        return fallback;
    }
    while (text.ends_with('/')) text.pop_back();
    return text;
}

ConfigReader ConfigReader::object(std::string_view key) {
    const auto* value = lookup(key);
    if (value && !value->is_object()) {
        problem(key, "must be an object");
        value = nullptr;
    }
    return ConfigReader(value ? *value : empty_object(), key_path(key), *errors_);
}

std::vector<std::string> ConfigReader::keys() const {
    std::vector<std::string> out;
    if (node_->is_object()) {
        for (const auto& [key, value] : node_->items()) out.push_back(key);
    }
    return out;
}

void ConfigReader::done() {
    if (!node_->is_object()) return;
    for (const auto& [key, value] : node_->items()) {
        if (!read_.contains(key)) problem(key, "unknown key");
    }
}

}  // namespace bot
