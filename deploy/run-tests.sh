#!/usr/bin/env bash
# The README's test command: sets everything up on a fresh Debian 12 machine
# and runs the whole suite twice, once in a normal build with warnings as
# errors and once under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   deploy/run-tests.sh            both builds
#   deploy/run-tests.sh --quick    the normal build only
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

run_suite() {
    local dir=$1; shift
    echo "==> build $dir ($*)"
    deploy/build.sh "$dir" "$@"
    echo "==> test $dir"
    ctest --test-dir "$dir" --output-on-failure -j 2 --timeout 300
}

start=$(date +%s)
run_suite build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--quick" ]; then
    run_suite build/sanitize -DCMAKE_BUILD_TYPE=Debug -DBOSUN_SANITIZE=ON -DBOSUN_BUILD_BENCH=OFF
fi
echo "==> all tests passed in $(( $(date +%s) - start )) s"
