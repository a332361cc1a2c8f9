#!/usr/bin/env bash
# Installs everything contactbot's build, tests and benchmarks need on Debian 12 (bookworm),
# starting from a minimal system (apt, ca-certificates, git). Idempotent; run as root or with sudo.
set -euo pipefail

packages=(
    # toolchain
    build-essential cmake ninja-build pkg-config git ca-certificates
    # libraries
    libboost1.81-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
    libpugixml-dev libcli11-dev libqrencode-dev libmimalloc-dev libmd4c-dev
    # tests and benchmarks
    catch2 libbenchmark-dev sqlite3 curl libzbar-dev
    # the fuzzers (tests/fuzz): clang 14 with its libFuzzer and sanitizer runtimes
    clang libclang-rt-14-dev
    # the web chat's real-browser test: Debian's Chromium, driven from Node.js
    chromium nodejs
)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's npm package; a Node.js from elsewhere (NodeSource) brings its own npm.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages already installed"
else
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core for the browser test, at the version in package-lock.json. It downloads no
# browser: the test drives /usr/bin/chromium.
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
wanted=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$browser_tests/package.json")
installed=$(sed -n 's/^  "version": "\(.*\)",/\1/p' \
    "$browser_tests/node_modules/playwright-core/package.json" 2>/dev/null || true)
if [ "$wanted" != "$installed" ]; then
    echo "install-deps: installing playwright-core $wanted for the browser test"
    # npm trusts what the system trusts (a site's own CA in /usr/local/share/ca-certificates
    # included). Without the registry only the browser test cannot run: say so, go on.
    (cd "$browser_tests" &&
        NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt} \
            npm ci --no-audit --no-fund --loglevel=error) ||
        echo "install-deps: WARNING: npm could not install playwright-core; the browser test will fail" >&2
fi
