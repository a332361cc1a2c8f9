#!/bin/bash
# The dependency rule of DESIGN.md, checked on the sources: arrows only go down,
# base <- bot/http, bot/net <- llm, storage <- the core (bot/) <- adapters <- the composition
# root (bot/app.cpp, bot/main.cpp, bot/adapter_commands.cpp). Prints every include that breaks it.
set -u
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2
failures=0

# check FOLDER_GLOB ALLOWED_REGEX: every project include in those files must match ALLOWED.
check() {
    local files=$1 allowed=$2 what=$3
    local bad
    bad=$(grep -HnE '^#include "' $files 2>/dev/null | grep -vE "#include \"($allowed)")
    if [ -n "$bad" ]; then
        echo "layers: $what:"
        echo "$bad"
        failures=$((failures + 1))
    fi
}

check "base/*.hpp base/*.cpp" 'base/' "the ground (base/) includes only itself"
check "bot/http/* bot/net/*" 'base/|bot/http/|bot/net/' \
    "the transport includes only the ground and itself"
check "storage/*.hpp storage/*.cpp" 'base/|storage/' "storage includes only the ground and itself"
check "llm/*.hpp llm/*.cpp" 'base/|bot/http/|bot/net/|llm/' \
    "llm/ includes only the ground, the transport and itself"
# forbid FILES FORBIDDEN_REGEX EXCEPT_REGEX WHAT: no project include in those files may match
# FORBIDDEN unless it matches EXCEPT.
forbid() {
    local files=$1 forbidden=$2 except=$3 what=$4
    local bad
    bad=$(grep -HnE "$forbidden" $files 2>/dev/null | grep -vE "$except")
    if [ -n "$bad" ]; then
        echo "layers: $what:"
        echo "$bad"
        failures=$((failures + 1))
    fi
}

core=$(ls bot/*.hpp bot/*.cpp | grep -vE '^bot/(app\.(hpp|cpp)|main\.cpp|adapter_commands\.cpp|terminal_chat\.cpp)$')
check "$core" 'base/|bot/|storage/|llm/' "the core never includes adapters/"
# Adapters see the core only through its adapter API; other adapters' shared code
# (wechat_common/...) and the lower layers are theirs to use. Never storage/ or llm/.
forbid "adapters/*/*.hpp adapters/*/*.cpp" \
    '#include "(storage|llm)/|#include "bot/[a-z_]+\.hpp"' 'bot/adapter(_command)?\.hpp"' \
    "adapters never include storage/, llm/ or the core beyond bot/adapter.hpp"

if [ $failures -ne 0 ]; then
    echo "layers: $failures rule(s) broken"
    exit 1
fi
echo "layers: every include follows the dependency rule"
