#!/usr/bin/env bash
# The README's run command: sets everything up on a fresh Debian 12 machine
# and runs bosun for real on it -- a private nats-server on 127.0.0.1
# (JetStream on), central and three agents electing owners for two resources
# over loopback multicast -- then shows the heartbeats, who is ACTIVE for each
# resource, and a shellCommand sent through inmsg.txt with its result, and
# keeps running until Ctrl-C, when it stops everything it started.
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

echo "==> starting bosun-central and agents node1 node2 node3 (resources vip-web, vip-db)"
"$central" --node central --brokerAddress "$url" --data-dir "$work/central" \
    >"$work/central.log" 2>&1 &
pids+=($!)
mport=$(( 20000 + RANDOM % 20000 ))
secret=$(head -c 18 /dev/urandom | base64)
i=0
for n in node1 node2 node3; do
    i=$((i + 1))
    # node3 is best for vip-web, node1 for vip-db: the winners differ.
    cat >"$work/$n.json" <<JSON
{"id": "$n", "dataDir": "$work/$n", "nats": {"servers": ["$url"]},
 "networking": {"interfaceName": "lo", "address": "239.255.86.$((RANDOM % 250 + 1))",
                "port": $mport, "cryptoPassword": "$secret"},
 "resources": [{"id": "vip-web", "priority": $((100 + 10 * i))},
               {"id": "vip-db", "priority": $((140 - 10 * i))}],
 "timing": {"txIntervalSecs": 0.2, "transitionWaitSecs": 0.4}}
JSON
    sed -i "s/239.255.86.[0-9]*/239.255.86.$((mport % 250 + 1))/" "$work/$n.json"
    "$agent" --config-file "$work/$n.json" >"$work/$n.log" 2>&1 &
    pids+=($!)
done

echo "==> the fleet's heartbeats (2 s of '*.event.heartbeat')"
timeout 2 "$central" watch --brokerAddress "$url" '*.event.heartbeat' >"$work/watch.json" || true
for n in node1 node2 node3; do
    count=$(grep -c "\"node\":\"$n\"" "$work/watch.json" || true)
    echo "    $n: $count heartbeats in 2 s"
done

echo "==> the election: who is ACTIVE for each resource"
for _ in $(seq 40); do
    web=$(grep -l "vip-web: GOING_ACTIVE -> ACTIVE" "$work"/node*.log 2>/dev/null | head -1)
    db=$(grep -l "vip-db: GOING_ACTIVE -> ACTIVE" "$work"/node*.log 2>/dev/null | head -1)
    [ -n "$web" ] && [ -n "$db" ] && break
    sleep 0.25
done
for r in vip-web vip-db; do
    for n in node1 node2 node3; do
        last=$(grep "election: $r: " "$work/$n.log" | tail -1)
        case "$last" in
        *"-> ACTIVE"*) echo "    $r: ACTIVE on $n  (${last#*election: })" ;;
        esac
    done
done
echo "    each node's own view: $central request --brokerAddress $url --to node1 --method electionStatus"

echo "==> a command through inmsg.txt: shellCommand on node2"
since=$(( $(date +%s%3N) - 1 ))
"$central" send --data-dir "$work/central" --to node2 --method shellCommand -- \
    bash -c 'echo hello from $BOSUN_NODE; uptime' | sed 's/^/    /'
result=""
for _ in $(seq 100); do
    result=$("$central" results --data-dir "$work/central" --node node2 --since "$since" 2>/dev/null | head -1)
    [ -n "$result" ] && break
    sleep 0.1
done
echo "    result: $result"
stdout=$(printf %s "$result" | grep -o '"stdout":"[^"]*"' | head -1)
echo "    stdout: ${stdout#\"stdout\":}"

cat <<EOT

==> bosun is running: nats $url, central, agents node1 node2 node3
    watch everything:   $central watch --brokerAddress $url '*.event.>'
    send a command:     $central send --data-dir $work/central --to node1 --method shellCommand -- uname -a
    see results:        $central results --data-dir $work/central --since 10m
    election state:     $central request --brokerAddress $url --to node1 --method electionStatus
    dashboard:          http://127.0.0.1:8756/   (metrics: /metrics, health: /health)
    logs:               $work/*.log
EOT
if [ "$run_for" -gt 0 ]; then
    sleep "$run_for"
else
    echo "    press Ctrl-C to stop everything"
    while true; do sleep 1; done
fi
