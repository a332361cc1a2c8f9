// Runs a command an adapter type adds to the command line (bot/adapter_command.hpp) beside a
// running server: it opens the shared database and lends the command an HTTP client and the
// adapter's state, as a server would.
#pragma once

#include "bot/adapter_command.hpp"
#include "bot/config.hpp"

#include <iosfwd>
#include <string>

namespace bot {

class Logger;

// Runs command (offered by adapters of type command.adapter_type) for the adapter
// `adapter_id`; returns the command's exit status, kCommandConfigInvalid when that adapter is
// not configured as one of that type or its config has problems (printed to err).
int run_adapter_command(const AdapterTypeCommand& command, const Config& config,
                        const std::string& adapter_id, Logger& log, std::istream& in,
                        std::ostream& out, std::ostream& err, bool unicode);

}  // namespace bot
