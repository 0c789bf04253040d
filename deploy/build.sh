#!/usr/bin/env bash
# Configures and builds bosun into a build directory. The one build recipe:
# deploy/run-tests.sh, deploy/run-demo.sh and the Dockerfile all call it.
#
#   deploy/build.sh BUILD_DIR [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: deploy/build.sh BUILD_DIR [cmake options...]}
shift
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$dir" -DBOSUN_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$jobs"
