#!/usr/bin/env bash
# Installs exactly the Debian 12 packages bosun needs to build, test and run.
# Used by the README's two commands, by CI (.ci/run) and by the Dockerfile.
#
#   deploy/install-deps.sh            build + test + run dependencies
#   deploy/install-deps.sh --runtime  only what the binaries need at run time
set -euo pipefail

runtime=(
    libnats3.4 libprotobuf-c1 libjansson4 libsodium23 libsqlite3-0 zlib1g
    libmicrohttpd12 nats-server
)
build=(
    build-essential cmake pkg-config
    libnats-dev libprotobuf-c-dev protobuf-c-compiler libjansson-dev
    libsodium-dev libsqlite3-dev zlib1g-dev libmicrohttpd-dev
    libcmocka-dev nats-server iproute2 procps nftables openssl docker-compose
    python3-yaml systemd
    clang libclang-rt-dev
    prometheus  # promtool: test_http checks /metrics with it (7 s, 19 MB here)
    chromium chromium-driver python3-selenium  # test_dashboard: the page in headless Chromium
)

want=("${build[@]}")
[ "${1:-}" = "--runtime" ] && want=("${runtime[@]}")

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#want[@]} packages present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
