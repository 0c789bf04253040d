#!/usr/bin/env bash
# The README's test command: sets everything up on a fresh Debian 12 machine
# and runs the whole suite twice, once in a normal build with warnings as
# errors and once under AddressSanitizer + UndefinedBehaviorSanitizer, then
# every libFuzzer target for a bounded time (tests/fuzz/run.sh).
#
#   deploy/run-tests.sh            both builds and the fuzz targets
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
    # libFuzzer: 9 targets x 15 s, about 2.5 min plus the clang build; replays
    # tests/fuzz/regressions/ first. A longer run: tests/fuzz/run.sh --secs 600
    echo "==> fuzz (clang + libFuzzer, 15 s per target)"
    tests/fuzz/run.sh --secs 15
fi
echo "==> all tests passed in $(( $(date +%s) - start )) s"
