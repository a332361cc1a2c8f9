// The table of adapter types compiled into this binary ("type" in adapters.<id> config).
#pragma once

#include "bot/adapter.hpp"

#include <string_view>
#include <utility>
#include <vector>

namespace bot::adapters {

const std::vector<std::pair<std::string_view, AdapterFactory>>& builtin_adapters();

}  // namespace bot::adapters
