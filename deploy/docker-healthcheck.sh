#!/bin/sh
# Container health for the bosun image, by role (BOSUN_ROLE):
#   central: its HTTP /health must answer 200 (NATS link included);
#   agent:   it must answer a ping on its subject through NATS.
set -eu
case "${BOSUN_ROLE:-agent}" in
central)
    exec bosun-central health --http "${BOSUN_HTTP:-127.0.0.1:8756}" ;;
agent)
    exec bosun-central request --brokerAddress "${BOSUN_NATS:-nats://nats:4222}" \
        --to "${BOSUN_NODE:?set BOSUN_NODE}" --method ping --timeout 2 >/dev/null ;;
*)
    echo "unknown BOSUN_ROLE '${BOSUN_ROLE}'" >&2; exit 1 ;;
esac
