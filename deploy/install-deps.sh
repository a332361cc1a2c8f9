#!/usr/bin/env bash
# Installs everything contactbot's build, tests and benchmarks need on Debian 12 (bookworm),
# starting from a minimal system (apt, ca-certificates, git). Idempotent; run as root or with sudo.
set -euo pipefail

packages=(
    # toolchain
    build-essential cmake ninja-build pkg-config git ca-certificates
    # libraries
    libboost1.81-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
    libpugixml-dev libcli11-dev
    # tests and benchmarks
    catch2 libbenchmark-dev sqlite3 curl
)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
