#!/usr/bin/env bash
# bench_failover.sh - election failover, handover, double-ACTIVE time and
# bandwidth of real bosun-agents on 3 hosts in network namespaces (issue 4,
# "Benchmarks"; DESIGN.md "Election").
#
# Builds its own network: one bridge namespace and three host namespaces
# (bosun-bf<pid>-br, -h1..-h3), each host with a veth 10.199.0.(i+1)/24 whose
# peer is a port of the bridge, and a 224.0.0.0/4 route on it. Every agent
# runs inside its host namespace, its election bound to that veth, with a
# cryptoPassword and no reachable broker (nats://127.0.0.1:1, the
# namespace's own loopback). Nothing leaves these namespaces. Every process
# is stopped by its pid and every namespace deleted on exit, also on failure
# or Ctrl-C (trap).
#
# One resource, res01, priorities n1 110, n2 120, n3 130: n3 is ACTIVE, n2
# takes over. onActive/onIdle scripts append "<epoch-ns> <node> <res> <state>"
# to a file, with the script's own start time (bash EPOCHREALTIME).
#
# For each tx interval (and transitionWait = --tw-factor x tx):
#   failover  kill -9 of the ACTIVE (n3): from the benchmark's timestamp taken
#             right before kill(2) to the start of n2's onActive script.
#   handover  SIGTERM of n3: the same measure.
#   Each trial: wait until n3 is ACTIVE and the others IDLE, settle 10 tx,
#   kill, measure, restart n3 (it preempts back), repeat.
#   double-ACTIVE  over the whole run on a clean network: the time during
#             which two nodes' ACTIVE intervals overlap, from the scripts'
#             timestamps (a node killed -9 ends at the kill), and again from
#             the agents' own log times of their transitions (ms).
# And at tx = 1 s (default timing): UDP payload on the wire, counted by
# nftables counters on the bridge ports (IP bytes - 28 per packet), for 1
# resource and for 5 (all won by one node, then spread over the 3 nodes).
#
# Prints p50, p99 (nearest rank), min, max in ms and in tx units, with all
# settings. Never passes or fails on a figure: exits 0 unless something broke.
#
# usage: sudo bench/bench_failover.sh [--agent PATH] [--trials N]
#            [--tx "0.02 0.1"] [--tw-factor 0.1] [--tw1-tx 0.1] [--bw-secs 60]
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench_failover.sh [options]          (needs root: network namespaces, nftables)
  --agent PATH     bosun-agent binary (default: $BOSUN_AGENT, else build/bosun-agent)
  --trials N       trials per measure and setting (default 50)
  --tx "A B"       tx intervals in seconds (default "0.02 0.1")
  --tw-factor F    transitionWaitSecs = F x tx for those (default 0.1)
  --tw1-tx T       also run tx = T with transitionWait = 1 tx ("" to skip; default 0.1)
  --bw-secs S      bandwidth sampling time per case at tx = 1 s (0 to skip; default 60)
  --keep           keep the agents' logs and the scripts' records (kept anyway on failure)
EOF
}

die() { echo "bench_failover: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
agent=${BOSUN_AGENT:-$here/../build/bosun-agent}
trials=50 tx_list="0.02 0.1" tw_factor=0.1 tw1_tx=0.1 bw_secs=60 keep=0

while [ $# -gt 0 ]; do
    case $1 in
    --agent) agent=${2:?}; shift 2 ;;
    --trials) trials=${2:?}; shift 2 ;;
    --tx) tx_list=${2:?}; shift 2 ;;
    --tw-factor) tw_factor=${2:?}; shift 2 ;;
    --tw1-tx) tw1_tx=${2?}; shift 2 ;;
    --bw-secs) bw_secs=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
[[ $trials =~ ^[0-9]+$ && $trials -ge 1 ]] || { usage >&2; exit 2; }
[[ $bw_secs =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nftables); run with sudo"
[ -x "$agent" ] || die "no agent binary at $agent (build first, or pass --agent)"
command -v ip >/dev/null || die "ip (iproute2) not found"
command -v nft >/dev/null || die "nft (nftables) not found"
agent=$(cd "$(dirname "$agent")" && pwd)/$(basename "$agent")

dir=$(mktemp -d /tmp/bosun-bench-failover-XXXXXX)
pfx="bosun-bf$$"
BR="$pfx-br"
GROUP=239.255.199.1
PORT=8513
declare -a pids=("" "" "" "")
made_ns=()

# ---- clean-up ------------------------------------------------------------------------
# Stops pid: sig, then SIGKILL after 5 s; reaps it.
stop_pid() {
    local pid=$1 sig=$2
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # Killing and reaping in one redirected group keeps bash from printing "Killed".
    { kill -KILL "$pid"; wait "$pid"; } 2>/dev/null || true
}
stop_all() {
    local i
    for i in 1 2 3; do [ -n "${pids[$i]}" ] && kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for i in 1 2 3; do stop_pid "${pids[$i]}" TERM; pids[$i]=""; done
}
cleanup() {
    local rc=$? ns
    stop_all
    for ns in "${made_ns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ "$rc" -eq 0 ] && [ "$keep" = 0 ]; then
        rm -rf "$dir"
    else
        echo "bench_failover: agents' logs and scripts' records kept in $dir" >&2
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- the network --------------------------------------------------------------------
ns_add() {
    [ -e "/var/run/netns/$1" ] && die "namespace $1 exists already"
    ip netns add "$1"
    made_ns+=("$1")
    ip -n "$1" link set lo up
}
ns_add "$BR"
ip -n "$BR" link add br0 type bridge mcast_snooping 0
ip -n "$BR" link set br0 up
for i in 1 2 3; do
    h="$pfx-h$i"
    ns_add "$h"
    ip link add veth0 netns "$h" type veth peer name "p$i" netns "$BR"
    ip -n "$h" addr add "10.199.0.$((i + 1))/24" dev veth0
    ip -n "$h" link set veth0 up
    ip -n "$h" route add 224.0.0.0/4 dev veth0
    ip -n "$BR" link set "p$i" master br0
    ip -n "$BR" link set "p$i" up
done

# ---- agents --------------------------------------------------------------------------
states="$dir/states"
for st in ACTIVE IDLE; do
    f="$dir/on_$st.sh"
    printf '#!/bin/bash\nprintf '"'"'%%s %%s %%s %s\\n'"'"' "${EPOCHREALTIME/./}000" "$BOSUN_NODE" "$1" >> %q\n' \
        "$st" "$states" >"$f"
    chmod 755 "$f"
done

# write_configs TX TW NRES SPREAD: n3 best for every resource, or (SPREAD=1)
# resource k best on node ((k-1) mod 3)+1.
write_configs() {
    local tx=$1 tw=$2 nres=$3 spread=$4 i k res prio
    for i in 1 2 3; do
        res=""
        for k in $(seq "$nres"); do
            if [ "$spread" = 1 ]; then
                prio=$((100 + 10 * ((i - k + 3 * 10) % 3)))
            else
                prio=$((100 + 10 * i))
            fi
            res+="${res:+, }{\"id\": \"res$(printf %02d "$k")\", \"priority\": $prio}"
        done
        cat >"$dir/n$i.json" <<EOF
{"id": "n$i", "dataDir": "$dir/d$i", "nats": {"servers": ["nats://127.0.0.1:1"]},
 "networking": {"interfaceName": "veth0", "address": "$GROUP", "port": $PORT,
                "cryptoPassword": "bench-failover-secret"},
 "resources": [$res],
 "run": {"onActive": "$dir/on_ACTIVE.sh", "onIdle": "$dir/on_IDLE.sh"},
 "timing": {"txIntervalSecs": $tx, "transitionWaitSecs": $tw}}
EOF
    done
}

start_agent() {
    local i=$1
    ip netns exec "$pfx-h$i" "$agent" --config-file "$dir/n$i.json" --log-level 3 >>"$dir/n$i.log" 2>&1 &
    pids[$i]=$!
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# Last script-reported state of node $1 for res01.
last_state() { awk -v n="n$1" '$2 == n && $3 == "res01" { s = $4 } END { print s }' "$states"; }

# Waits (at most $1 s) until n3 is ACTIVE for res01 and n1, n2 are not.
wait_stable() {
    local limit=$(($(now_us) + $1 * 1000000))
    while [ "$(now_us)" -lt "$limit" ]; do
        if [ "$(last_state 3)" = ACTIVE ] && [ "$(last_state 2)" != ACTIVE ] &&
            [ "$(last_state 1)" != ACTIVE ]; then
            return 0
        fi
        kill -0 "${pids[3]}" 2>/dev/null || die "n3 exited: $(tail -5 "$dir/n3.log")"
        sleep 0.02
    done
    die "no stable ACTIVE within $1 s: n1 $(last_state 1) n2 $(last_state 2) n3 $(last_state 3)"
}

# Waits (at most $2 s) for an ACTIVE line for res01 after line $1 of the states
# file; prints "<ns> <node>".
wait_new_active() {
    local from=$1 limit=$(($(now_us) + $2 * 1000000)) hit
    while [ "$(now_us)" -lt "$limit" ]; do
        hit=$(tail -n +"$((from + 1))" "$states" | awk '$3 == "res01" && $4 == "ACTIVE" { print $1, $2; exit }')
        if [ -n "$hit" ]; then echo "$hit"; return 0; fi
        sleep 0.02
    done
    return 1
}

# Time of node $1's first "res01: ... -> ACTIVE" log line at or after ms $2 (ms).
log_active_ms() {
    TZ=UTC awk -v since="$2" '/election: res01: .* -> ACTIVE/ {
        split($1, a, /[-T:.Z]/)
        ms = mktime(a[1] " " a[2] " " a[3] " " a[4] " " a[5] " " a[6]) * 1000 + a[7]
        if (ms >= since) { printf "%.0f\n", ms; exit }
    }' "$dir/n$1.log"
}

# stats FILE TX_MS: p50 p99 min max mean of a column of ms values.
stats() {
    sort -g "$1" | awk -v tx="$2" '{ v[NR] = $1; s += $1 } END {
        if (NR == 0) { print "no samples"; exit }
        p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
        printf "n=%d p50=%.1f ms (%.2f tx) p99=%.1f ms (%.2f tx) min=%.1f max=%.1f mean=%.1f ms\n",
            NR, p50, p50 / tx, p99, p99 / tx, v[1], v[NR], s / NR }'
}

# overlap: double-ACTIVE time for res01 from "<ns> <node> res01 ACTIVE|IDLE|KILLED" events.
overlap() {
    sort -n | awk '{
        t = $1; n = $2
        if (cnt >= 2) { tot += t - since }
        if ($4 == "ACTIVE") { if (!on[n]) cnt++; on[n] = 1 }
        else { if (on[n]) cnt--; on[n] = 0 }
        if (cnt >= 2) { if (!dbl) { ep++; start = t }; dbl = 1 }
        else if (dbl) { d = t - start; if (d > mx) mx = d; dbl = 0 }
        since = t
    } END { printf "%.3f ms in %d episodes (longest %.3f ms)\n", tot / 1e6, ep, mx / 1e6 }'
}

# The same events from the agents' logs (ms, as ns) plus the kill markers.
log_events() {
    local i
    for i in 1 2 3; do
        TZ=UTC awk -v n="n$i" '/election: res01: / {
            split($1, a, /[-T:.Z]/)
            ms = mktime(a[1] " " a[2] " " a[3] " " a[4] " " a[5] " " a[6]) * 1000 + a[7]
            if ($0 ~ /-> ACTIVE/) printf "%.0f %s res01 ACTIVE\n", ms * 1000000, n
            else if ($0 ~ /ACTIVE ->/) printf "%.0f %s res01 IDLE\n", ms * 1000000, n
        }' "$dir/n$i.log"
    done
    awk '$4 == "KILLED"' "$states"
}

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "bench_failover $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: cpu=\"$cpu_model\" cores=$(nproc) kernel=$(uname -r) load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "agent: $("$agent" --version 2>&1 | head -1) ($agent)"
echo "network: 3 hosts in namespaces $pfx-h1..3, veth to bridge br0 in $BR (no loss, no delay)"
echo "election: group $GROUP:$PORT on veth0, sealed, no broker; res01 priorities n1 110 n2 120 n3 130"

# ---- failover and handover ----------------------------------------------------------------
# run_case TX TW: trials of kill -9 and of SIGTERM at one setting.
run_case() {
    local tx=$1 tw=$2 tx_ms settle tmo i kind t0 hit ms lms lines
    tx_ms=$(awk -v t="$tx" 'BEGIN { print t * 1000 }')
    settle=$(awk -v t="$tx" 'BEGIN { printf "%.3f", 10 * t + 0.1 }')
    tmo=$(awk -v t="$tx" 'BEGIN { printf "%d", 40 * t + 10 }')
    : >"$states"
    for i in 1 2 3; do : >"$dir/n$i.log"; done
    write_configs "$tx" "$tw" 1 0
    for i in 1 2 3; do start_agent "$i"; done
    echo
    echo "== tx=${tx_ms} ms transitionWait=$(awk -v t="$tw" 'BEGIN { print t * 1000 }') ms" \
        "($(awk -v a="$tw" -v b="$tx" 'BEGIN { printf "%.2g", a / b }') tx), $trials trials each"
    for kind in failover handover; do
        : >"$dir/$kind.ms"
        : >"$dir/$kind.log_ms"
        for t in $(seq "$trials"); do
            wait_stable "$tmo"
            sleep "$settle"
            wait_stable "$tmo"
            lines=$(wc -l <"$states")
            t0=$(now_us)
            if [ "$kind" = failover ]; then
                echo "${t0}000 n3 res01 KILLED" >>"$states"
                lines=$((lines + 1))
                { kill -KILL "${pids[3]}"; wait "${pids[3]}"; } 2>/dev/null || true
            else
                kill -TERM "${pids[3]}"
            fi
            hit=$(wait_new_active "$lines" "$tmo") || die "$kind trial $t: no new ACTIVE within $tmo s"
            ms=$(awk -v a="${hit% *}" -v b="$t0" 'BEGIN { printf "%.3f", (a / 1000 - b) / 1000 }')
            echo "$ms" >>"$dir/$kind.ms"
            lms=$(log_active_ms "${hit#* n}" "$((t0 / 1000))")
            [ -n "$lms" ] && awk -v a="$lms" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b / 1000 }' >>"$dir/$kind.log_ms"
            stop_pid "${pids[3]}" TERM
            pids[3]=""
            start_agent 3
            if [ $((t % 10)) -eq 0 ]; then
                echo "   $kind $t/$trials: $(stats "$dir/$kind.ms" "$tx_ms")"
            fi
        done
    done
    wait_stable "$tmo"
    stop_all
    mkdir -p "$dir/tx$tx-tw$tw"
    cp "$states" "$dir"/n?.log "$dir"/*.ms "$dir"/*.log_ms "$dir/tx$tx-tw$tw/"
    echo "-- tx=${tx_ms} ms tw=$(awk -v t="$tw" 'BEGIN { print t * 1000 }') ms results" \
        "(load average now: $(cut -d' ' -f1-3 /proc/loadavg)):"
    echo "   failover after kill -9 (to onActive start):  $(stats "$dir/failover.ms" "$tx_ms")"
    echo "     (to the agent's log line of the transition, 1 ms resolution): $(stats "$dir/failover.log_ms" "$tx_ms")"
    echo "   handover after SIGTERM (to onActive start):  $(stats "$dir/handover.ms" "$tx_ms")"
    echo "     (to the agent's log line of the transition, 1 ms resolution): $(stats "$dir/handover.log_ms" "$tx_ms")"
    echo "   double-ACTIVE, scripts' timestamps:  $(awk '$3 == "res01"' "$states" | overlap)"
    echo "   double-ACTIVE, agents' log times:    $(log_events | overlap)"
    echo "   transitions logged: $(cat "$dir"/n?.log | grep -c 'election: res01: .* -> ')," \
        "scripts run: $(awk '$4 != "KILLED"' "$states" | wc -l)"
}

for tx in $tx_list; do
    run_case "$tx" "$(awk -v t="$tx" -v f="$tw_factor" 'BEGIN { print t * f }')"
done
if [ -n "$tw1_tx" ]; then
    run_case "$tw1_tx" "$tw1_tx"
fi

# ---- bandwidth ----------------------------------------------------------------------------
nft_br() { ip netns exec "$BR" nft "$@"; }

# Bytes and packets of election datagrams entering the bridge from each port.
counters() {
    nft_br list table bridge bosun_bench | awk '/iifname/ {
        for (k = 1; k <= NF; k++) { if ($k == "packets") p += $(k + 1); if ($k == "bytes") b += $(k + 1) }
    } END { print p + 0, b + 0 }'
}
counters_port() {
    nft_br list table bridge bosun_bench | awk -v port="\"p$1\"" '$0 ~ "iifname " port {
        for (k = 1; k <= NF; k++) { if ($k == "packets") p = $(k + 1); if ($k == "bytes") b = $(k + 1) }
    } END { print p + 0, b + 0 }'
}

if [ "$bw_secs" -gt 0 ]; then
    nft_br add table bridge bosun_bench
    nft_br add chain bridge bosun_bench count '{ type filter hook prerouting priority -200 ; policy accept ; }'
    for i in 1 2 3; do
        nft_br add rule bridge bosun_bench count iifname "\"p$i\"" ip daddr "$GROUP" udp dport "$PORT" counter
    done
    # Calibration: one 100-byte datagram from h1 must count 128 bytes (IP + UDP + payload).
    read -r p0 b0 < <(counters)
    ip netns exec "$pfx-h1" bash -c "printf '%100s' x > /dev/udp/$GROUP/$PORT"
    sleep 0.2
    read -r p1 b1 < <(counters)
    echo
    echo "== bandwidth at tx=1 s, transitionWait=3 s (defaults), ${bw_secs} s per case"
    echo "   calibration: a 100-byte UDP payload counted as $((p1 - p0)) packet(s), $((b1 - b0)) bytes" \
        "(expect 1, 128: the counter sees the IP packet)"

    bw_case() {
        local nres=$1 spread=$2 what=$3 i p b pk by
        : >"$states"
        for i in 1 2 3; do : >"$dir/n$i.log"; done
        write_configs 1 3 "$nres" "$spread"
        for i in 1 2 3; do start_agent "$i"; done
        sleep 12 # listen 3 s, skew, wait 3 s, settle
        read -r p0 b0 < <(counters)
        declare -a q0
        for i in 1 2 3; do q0[$i]=$(counters_port "$i"); done
        local t0 t1
        t0=$(now_us)
        sleep "$bw_secs"
        read -r p1 b1 < <(counters)
        t1=$(now_us)
        p=$((p1 - p0)) b=$((b1 - b0))
        awk -v p="$p" -v b="$b" -v us="$((t1 - t0))" -v w="$what" 'BEGIN {
            s = us / 1e6; pay = b - 28 * p
            printf "   %s: %d packets, %d IP bytes in %.1f s: UDP payload %d bytes = %.3f kbit/s (%.1f bytes/packet, %.2f packets/s)\n",
                w, p, b, s, pay, pay * 8 / 1000 / s, p ? pay / p : 0, p / s }'
        for i in 1 2 3; do
            read -r pk by <<<"${q0[$i]}"
            read -r p b < <(counters_port "$i")
            printf '      from n%d: %d packets, payload %d bytes\n' "$i" $((p - pk)) $((b - by - 28 * (p - pk)))
        done
        echo "      ACTIVE: $(awk '{ s[$2 " " $3] = $4 } END { for (k in s) if (s[k] == "ACTIVE") print k }' "$states" | sort | tr '\n' ',' | sed 's/,$//')"
        stop_all
    }
    bw_case 1 0 "1 resource"
    bw_case 5 0 "5 resources, all ACTIVE on n3"
    bw_case 5 1 "5 resources, ACTIVE spread over n1..n3"
fi
echo
echo "bench_failover: done"
