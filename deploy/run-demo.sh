#!/usr/bin/env bash
# The README's run command: sets everything up on a fresh Debian 12 machine
# and runs bosun for real on it -- a private nats-server on 127.0.0.1, central
# and three agents -- then shows the fleet's heartbeats and a command round
# trip, and keeps running until Ctrl-C, when it stops everything it started.
#
#   deploy/run-demo.sh                 run until Ctrl-C
#   deploy/run-demo.sh --for SECONDS   run for a while, then stop (scripts, CI)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

run_for=0
if [ "${1:-}" = "--for" ]; then run_for=${2:?--for needs seconds}; fi

deploy/install-deps.sh
echo "==> building bosun"
deploy/build.sh build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOSUN_BUILD_TESTS=OFF \
    -DBOSUN_BUILD_BENCH=OFF >/dev/null
agent=$top/build/demo/bosun-agent
central=$top/build/demo/bosun-central

work=$(mktemp -d /tmp/bosun-demo-XXXXXX)
pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "==> stopping ${#pids[@]} processes"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    echo "==> logs kept in $work"
}
trap cleanup INT TERM EXIT

echo "==> starting nats-server (JetStream on) on 127.0.0.1"
nats-server -a 127.0.0.1 -p -1 --ports_file_dir "$work" -js -sd "$work/js" \
    >"$work/nats-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    ports=$(ls "$work"/nats-server_*.ports 2>/dev/null || true)
    [ -n "$ports" ] && break
    sleep 0.1
done
url=$(grep -o 'nats://127.0.0.1:[0-9]*' "$ports" | head -1)
[ -n "$url" ] || { echo "nats-server did not start; see $work/nats-server.log"; exit 1; }
echo "    $url"

echo "==> starting bosun-central and agents node1 node2 node3"
"$central" --node central --brokerAddress "$url" --data-dir "$work/central" \
    >"$work/central.log" 2>&1 &
pids+=($!)
for n in node1 node2 node3; do
    "$agent" --id "$n" --brokerAddress "$url" --data-dir "$work/$n" >"$work/$n.log" 2>&1 &
    pids+=($!)
done

echo "==> the fleet's heartbeats (2 s of '*.event.heartbeat', one line per node)"
timeout 2 "$central" watch --brokerAddress "$url" '*.event.heartbeat' >"$work/watch.json" || true
for n in node1 node2 node3; do
    line=$(grep -m1 "\"node\":\"$n\"" "$work/watch.json" || true)
    if [ -n "$line" ]; then
        load=$(echo "$line" | grep -o '"load1":[0-9.]*' | cut -d: -f2)
        seq=$(grep -c "\"node\":\"$n\"" "$work/watch.json")
        echo "    $n alive: $seq heartbeats in 2 s, load $load"
    else
        echo "    $n: no heartbeat yet (see $work/$n.log)"
    fi
done

echo "==> command round trip: shellCommand on node2"
echo "    bosun-central request --to node2 --method shellCommand -- bash -c 'echo hello from \$BOSUN_NODE; uptime'"
"$central" request --brokerAddress "$url" --to node2 --method shellCommand -- \
    bash -c 'echo hello from $BOSUN_NODE; uptime' | tee "$work/result.json"

cat <<EOT

==> bosun is running: nats $url, central, agents node1 node2 node3
    watch everything:   $central watch --brokerAddress $url '*.event.>'
    run a command:      $central request --brokerAddress $url --to node1 --method shellCommand -- uname -a
    logs:               $work/*.log
EOT
if [ "$run_for" -gt 0 ]; then
    sleep "$run_for"
else
    echo "    press Ctrl-C to stop everything"
    while true; do sleep 1; done
fi
