// Commands that act on one adapter's state from the command line, beside a running server
// (which shares the database): `contactbot ilink-login`.
#pragma once

#include "bot/config.hpp"

#include <iosfwd>
#include <string>

namespace bot {

class Logger;

// Binds a WeChat account to the wechat_ilink adapter `adapter_id`; returns the exit status
// (adapters/wechat_ilink/login_command.hpp), 2 when the adapter is not configured as one.
int run_ilink_login(const Config& config, const std::string& adapter_id, Logger& log,
                    std::istream& in, std::ostream& out, bool unicode);

}  // namespace bot
