#!/bin/sh
# Forms the compose Redis Cluster once (docker-compose.yml service redis-init). Idempotent:
# exits 0 when the nodes already form a cluster (e.g. after `docker compose restart`).
set -eu
nodes="$*"
first="${1%%:*}"
for n in $nodes; do
  until [ "$(redis-cli -h "${n%%:*}" -p "${n##*:}" ping 2>/dev/null)" = "PONG" ]; do sleep 1; done
done
known="$(redis-cli -h "$first" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')"
if [ "$known" -gt 1 ]; then
  echo "redis-init: cluster already formed (${known} nodes)"
  exit 0
fi
# shellcheck disable=SC2086
redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes
until redis-cli -h "$first" cluster info | grep -q '^cluster_state:ok'; do sleep 1; done
echo "redis-init: cluster ready"
