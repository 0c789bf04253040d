#!/usr/bin/env bash
# Checks the deployment files without a container engine: the compose file
# parses, the systemd units verify, the example configs load in the real
# binaries, and the Dockerfile builds with the same scripts CI runs.
#   check_deploy.sh SOURCE_DIR AGENT_BIN CENTRAL_BIN
set -euo pipefail
src=$1 agent=$2 central=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bosun-deploy-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

docker-compose -f "$src/deploy/compose.yaml" config -q || fail "docker-compose rejects deploy/compose.yaml"
echo "ok: compose file"

for unit in bosun-agent bosun-central; do
    bin=$agent; [ "$unit" = bosun-central ] && bin=$central
    sed "s|/usr/bin/$unit|$bin|" "$src/deploy/systemd/$unit.service" >"$tmp/$unit.service"
    out=$(systemd-analyze verify "$tmp/$unit.service" 2>&1) || fail "systemd-analyze verify $unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $unit warns: $out"
done
echo "ok: systemd units"

"$agent" --config-file "$src/deploy/compose/agent.json" --id agent1 --check-config >/dev/null \
    || fail "deploy/compose/agent.json"
"$central" --config-file "$src/deploy/compose/central.json" --check-config >/dev/null \
    || fail "deploy/compose/central.json"
python3 - "$src/deploy/k8s/bosun.yaml" "$tmp" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
for d in docs:
    for key, text in (d.get("data") or d.get("stringData") or {}).items():
        if key.endswith(".json"):
            open(f"{sys.argv[2]}/{key}", "w").write(text)
PY
"$agent" --config-file "$tmp/agent.json" --id k8s-node --check-config >/dev/null || fail "k8s agent.json"
"$central" --config-file "$tmp/central.json" --check-config >/dev/null || fail "k8s central.json"
echo "ok: example configs"

grep -q 'deploy/install-deps.sh' "$src/deploy/Dockerfile" || fail "Dockerfile does not use install-deps.sh"
grep -q 'deploy/build.sh' "$src/deploy/Dockerfile" || fail "Dockerfile does not use deploy/build.sh"
grep -q 'deploy/build.sh' "$src/deploy/run-tests.sh" || fail "run-tests.sh does not use deploy/build.sh"
echo "ok: Dockerfile builds with CI's scripts"
echo "1 passed, 0 failed"
