// A subcommand an adapter type adds to the command line, such as `contactbot ilink-login
// --adapter ID`: a login step run from a terminal beside a server that shares the database.
// An adapter type lists its commands in the registry (adapters/CMakeLists.txt); `contactbot
// --help` shows them, and the core runs them without knowing the adapter.
#pragma once

#include "base/async.hpp"
#include "base/config_reader.hpp"
#include "bot/adapter.hpp"

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

// Exit status of a command whose --adapter or config is wrong (as check-config's).
inline constexpr int kCommandConfigInvalid = 2;

struct AdapterCommandContext {
    std::string adapter_id;
    // The adapter's config section: read what the command needs (not necessarily every key);
    // problems land in config.errors(): the command returns kCommandConfigInvalid without
    // acting, and the runner prints them.
    ConfigReader config;
    HttpClient& http;
    Logger& log;
    AdapterState& state;  // the adapter's durable state, shared with a running server
    std::istream& in;
    std::ostream& out;
    bool unicode = true;  // the terminal shows UTF-8
};

struct AdapterCommand {
    std::string_view name;                                      // "ilink-login"
    std::string_view summary;                                   // one line for --help
    net::awaitable<int> (*run)(AdapterCommandContext context);  // returns the exit status
};

// A command together with the adapter type that offers it.
struct AdapterTypeCommand {
    std::string_view adapter_type;
    AdapterCommand command;
};

}  // namespace bot
