#!/usr/bin/env bash
# bench_idle_agent.sh - resident memory and CPU of one idle bosun-agent.
#
# Starts a private nats-server on 127.0.0.1 and one agent with N resources
# (default 10) and the default heartbeat interval, lets it settle, then
# samples /proc/PID every second for the run: VmRSS at start, end and max,
# and utime+stime over the run as a percentage of one core. Prints the
# settings with the figures. Never passes or fails on the figures: exits 0
# unless something broke (2 for bad flags). Everything it starts is stopped
# by its pid (trap), and its temporary directory removed.
#
# usage: bench/bench_idle_agent.sh [--agent PATH] [--secs S] [--settle S]
#                                  [--resources N] [--heartbeat-ms MS]
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench_idle_agent.sh [options]
  --agent PATH        bosun-agent binary (default: $BOSUN_AGENT, else build/bosun-agent)
  --nats-server PATH  nats-server binary (default: from PATH)
  --secs S            sampling time in seconds (default 60)
  --settle S          wait before sampling, in seconds (default 5)
  --resources N       resources configured, r1..rN (default 10)
  --heartbeat-ms MS   timing.heartbeatIntervalMs (default: not set, the agent's 500)
EOF
}

die() { echo "bench_idle_agent: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
agent=${BOSUN_AGENT:-$here/../build/bosun-agent}
natsd=$(command -v nats-server || true)
secs=60 settle=5 nres=10 hb_ms=""

while [ $# -gt 0 ]; do
    case $1 in
    --agent) agent=${2:?}; shift 2 ;;
    --nats-server) natsd=${2:?}; shift 2 ;;
    --secs) secs=${2:?}; shift 2 ;;
    --settle) settle=${2:?}; shift 2 ;;
    --resources) nres=${2:?}; shift 2 ;;
    --heartbeat-ms) hb_ms=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
for v in "$secs" "$settle" "$nres" ${hb_ms:+"$hb_ms"}; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "bench_idle_agent: '$v' is not a whole number" >&2; exit 2; }
done
if [ "$secs" -lt 1 ] || [ "$nres" -gt 256 ]; then usage >&2; exit 2; fi
[ -x "$agent" ] || die "no agent binary at $agent (build first, or pass --agent)"
[ -n "$natsd" ] || die "nats-server not found (pass --nats-server)"

dir=$(mktemp -d /tmp/bosun-bench-idle-XXXXXX)
natsd_pid="" agent_pid=""

# Stops pid with sig, then SIGKILL after 5 s; reaps it.
stop_pid() {
    local pid=$1 sig=$2
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$agent_pid" TERM
    stop_pid "$natsd_pid" INT
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- nats-server -------------------------------------------------------------
"$natsd" -a 127.0.0.1 -p -1 -m -1 --ports_file_dir "$dir" >"$dir/natsd.log" 2>&1 &
natsd_pid=$!
ports=""
for _ in $(seq 100); do
    ports=$(cat "$dir"/nats-server_*.ports 2>/dev/null || true)
    [ -n "$ports" ] && break
    sleep 0.1
done
[ -n "$ports" ] || die "nats-server did not start: $(cat "$dir/natsd.log")"
url=$(sed -n 's/.*"nats":\["\([^"]*\)".*/\1/p' <<<"$ports")
mon=$(sed -n 's/.*"monitoring":\["\([^"]*\)".*/\1/p' <<<"$ports")
[ -n "$url" ] || die "cannot read the server's URL from $ports"

# ---- agent -------------------------------------------------------------------
res=""
for i in $(seq "$nres"); do res+="${res:+, }\"r$i\""; done
timing=""
[ -n "$hb_ms" ] && timing=", \"timing\": {\"heartbeatIntervalMs\": $hb_ms}"
cat >"$dir/agent.json" <<EOF
{"id": "idle1", "dataDir": "$dir/data", "nats": {"servers": ["$url"]},
 "resources": [$res]$timing}
EOF
"$agent" --config-file "$dir/agent.json" >"$dir/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do
    grep -q "connected to" "$dir/agent.log" && break
    kill -0 "$agent_pid" 2>/dev/null || die "agent exited: $(cat "$dir/agent.log")"
    sleep 0.1
done
grep -q "connected to" "$dir/agent.log" || die "agent did not connect: $(cat "$dir/agent.log")"

# ---- sampling ------------------------------------------------------------------
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$agent_pid/status"; }
# utime + stime in clock ticks (fields 14 and 15; comm may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$agent_pid/stat" | awk '{ print $12 + $13 }'; }
# Messages the agent published so far, from the server's monitoring port.
agent_msgs() {
    if [ -n "$mon" ] && command -v curl >/dev/null && command -v jq >/dev/null; then
        curl -s --max-time 2 "$mon/connz" |
            jq -r '[.connections[] | select(.name == "bosun-agent idle1") | .in_msgs] | add // empty'
    fi
}
alive() { kill -0 "$agent_pid" 2>/dev/null || die "agent exited: $(cat "$dir/agent.log")"; }

sleep "$settle"
alive
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
hz=$(getconf CLK_TCK)
rss0=$(status_kb VmRSS) rss_max=$rss0
ticks0=$(cpu_ticks) t0=$(date +%s%N) msgs0=$(agent_msgs || true)
for _ in $(seq "$secs"); do
    sleep 1
    alive
    r=$(status_kb VmRSS)
    if [ "$r" -gt "$rss_max" ]; then rss_max=$r; fi
done
ticks1=$(cpu_ticks) t1=$(date +%s%N) msgs1=$(agent_msgs || true)
rss1=$(status_kb VmRSS) hwm=$(status_kb VmHWM) threads=$(status_kb Threads)
anon=$(status_kb RssAnon) file=$(status_kb RssFile)

# ---- report ------------------------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "bench_idle_agent, sampling started $started"
echo "settings: resources=$nres heartbeatIntervalMs=${hb_ms:-500 (default)} settle=${settle}s secs=$secs sample=1s"
echo "machine: cpu=\"$cpu_model\" cores=$(nproc) kernel=$(uname -r)"
echo "software: $("$natsd" --version) agent=$("$agent" --version 2>&1 | head -1) ($agent)"
awk -v a="$rss0" -v b="$rss1" -v m="$rss_max" -v h="$hwm" -v an="$anon" -v fi="$file" -v th="$threads" 'BEGIN {
    printf "rss: start=%d KiB end=%d KiB max=%d KiB (%.2f MiB) VmHWM=%d KiB; at end RssAnon=%d KiB RssFile=%d KiB; threads=%d\n",
        a, b, m, m / 1024, h, an, fi, th }'
awk -v d="$((ticks1 - ticks0))" -v hz="$hz" -v ns="$((t1 - t0))" 'BEGIN {
    s = ns / 1e9
    printf "cpu: %d ticks (%.2f s at %d Hz) over %.1f s = %.3f%% of one core (resolution %.3f%%)\n",
        d, d / hz, hz, s, 100 * d / hz / s, 100 / hz / s }'
if [ -n "$msgs0" ] && [ -n "$msgs1" ]; then
    echo "agent published $((msgs1 - msgs0)) messages during the run (heartbeats)"
fi
