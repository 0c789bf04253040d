#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build/fuzz and runs each one
# for a bounded time on a copy of its seed corpus (tests/fuzz/corpus/<t>/).
#
#   tests/fuzz/run.sh [--secs N] [TARGET...]   N seconds per target (default 20)
#
# Before fuzzing, every input under tests/fuzz/regressions/<t>/ is replayed:
# a crash found once stays a test. A new crash is saved there by libFuzzer
# (-artifact_prefix) as crash-*, leak-*, timeout-* or oom-*; commit it with
# the fix. Prints the executions and crashes per target; exits non-zero when
# any target crashed. CI (deploy/run-tests.sh) runs it with --secs 15.
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=20
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --secs) secs=$2; shift 2 ;;
    --secs=*) secs=${1#--secs=}; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done

# Target and the largest input worth trying (-max_len).
declare -A max_len=(
    [fuzz_command]=4096 [fuzz_ack]=4096 [fuzz_heartbeat]=4096 [fuzz_event]=4096
    [fuzz_subject_json]=4096 [fuzz_election_sealed]=1500 [fuzz_election_packet]=8192
    [fuzz_inmsg]=8192 [fuzz_config]=8192 [fuzz_nkey]=2048
)
all=(fuzz_command fuzz_ack fuzz_heartbeat fuzz_event fuzz_subject_json fuzz_election_sealed
     fuzz_election_packet fuzz_inmsg fuzz_config fuzz_nkey)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [ -n "${max_len[$t]:-}" ] || { echo "run.sh: no fuzz target $t" >&2; exit 2; }
done

build=build/fuzz
echo "==> build $build (clang, libFuzzer + ASan + UBSan)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBOSUN_FUZZ=ON -DBOSUN_BUILD_TESTS=OFF -DBOSUN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
work=$(mktemp -d /tmp/bosun-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT

failed=0
summary=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    regress=tests/fuzz/regressions/$t
    mkdir -p "$regress"
    crashes=0

    # 1. Replay every saved input once.
    mapfile -t saved < <(find "$regress" -type f ! -name '.*' | sort)
    if [ ${#saved[@]} -gt 0 ]; then
        if ! "$bin" "${saved[@]}" >"$work/$t.replay.log" 2>&1; then
            echo "==> $t: a saved regression input crashes again:" >&2
            tail -n 40 "$work/$t.replay.log" >&2
            crashes=$((crashes + 1))
        fi
    fi

    # 2. Fuzz for $secs seconds on a copy of the seeds (the copy grows).
    mkdir -p "$work/$t"
    cp tests/fuzz/corpus/"$t"/* "$work/$t"/ 2>/dev/null || true
    before=$(find "$regress" -type f | wc -l)
    rc=0
    "$bin" -max_total_time="$secs" -max_len="${max_len[$t]}" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$regress/" "$work/$t" >"$work/$t.log" 2>&1 || rc=$?
    after=$(find "$regress" -type f | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*DONE.*/\1/p' "$work/$t.log" | tail -n 1)
    if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
        crashes=$((crashes + 1))
        echo "==> $t: crash (exit $rc); input saved in $regress/:" >&2
        grep -n "ERROR\|SUMMARY\|invariant\|artifact\|#[0-9]* *0x" "$work/$t.log" | head -n 40 >&2 || true
    fi
    [ "$crashes" -eq 0 ] || failed=1
    line=$(printf '%-22s %12s executions in %s s, %d crash(es), corpus %d files' "$t" "${execs:-?}" \
           "$secs" "$crashes" "$(find "$work/$t" -type f | wc -l)")
    echo "$line"
    summary+=("$line")
done

echo "==> fuzz summary (${#targets[@]} targets x $secs s)"
printf '%s\n' "${summary[@]}"
exit "$failed"
