// The table of adapter types compiled into this binary ("type" in adapters.<id> config).
#pragma once

#include "bot/adapter.hpp"
#include "bot/adapter_command.hpp"

#include <string_view>
#include <utility>
#include <vector>

namespace bot::adapters {

const std::vector<std::pair<std::string_view, AdapterFactory>>& builtin_adapters();

// The command-line commands the adapter types add (`contactbot ilink-login`).
const std::vector<AdapterTypeCommand>& builtin_commands();

}  // namespace bot::adapters
