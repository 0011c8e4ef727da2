#!/bin/sh
# Creates the Redis Cluster once, from the cluster-init Job. Idempotent: when the nodes already
# form a cluster it exits 0 without touching it, so re-applying the manifests (or the Job being
# re-created after its TTL) is harmless. A half-formed cluster is reported, never "repaired":
# see docs/operations.md#the-cluster-init-job-fails.
set -eu

: "${REDIS_STATEFULSET:?}" "${REDIS_HEADLESS_SERVICE:?}" "${POD_NAMESPACE:?}" "${REDIS_NODES:?}" "${REDIS_REPLICAS:?}"
domain="${REDIS_HEADLESS_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN:-cluster.local}"

hosts=""
i=0
while [ "$i" -lt "$REDIS_NODES" ]; do
  hosts="${hosts} ${REDIS_STATEFULSET}-${i}.${domain}"
  i=$((i + 1))
done

info() { redis-cli -h "$1" -p 6379 cluster info | tr -d '\r' | sed -n "s/^$2://p"; }

for h in $hosts; do
  until [ "$(redis-cli -h "$h" -p 6379 ping 2>/dev/null)" = "PONG" ]; do
    echo "cluster-init: waiting for ${h}"
    sleep 2
  done
done

formed=0
for h in $hosts; do
  known="$(info "$h" cluster_known_nodes)"
  if [ "$known" -gt 1 ]; then formed=$((formed + 1)); fi
  if [ "$known" -gt 1 ] && [ "$known" -ne "$REDIS_NODES" ]; then
    echo "cluster-init: ${h} knows ${known} nodes, expected ${REDIS_NODES}: the cluster is partly formed; fix it by hand" >&2
    exit 1
  fi
done
if [ "$formed" -eq "$REDIS_NODES" ]; then
  echo "cluster-init: the ${REDIS_NODES} nodes already form a cluster; nothing to do"
  exit 0
fi
if [ "$formed" -gt 0 ]; then
  echo "cluster-init: ${formed} of ${REDIS_NODES} nodes are in a cluster: refusing to create another; fix it by hand" >&2
  exit 1
fi

addrs=""
for h in $hosts; do
  ip="$(getent hosts "$h" | awk '{ print $1; exit }')"
  addrs="${addrs} ${ip}:6379"
done
echo "cluster-init: creating the cluster from${addrs}"
# shellcheck disable=SC2086
redis-cli --cluster create $addrs --cluster-replicas "$REDIS_REPLICAS" --cluster-yes

first="${REDIS_STATEFULSET}-0.${domain}"
until [ "$(info "$first" cluster_state)" = "ok" ]; do
  echo "cluster-init: waiting for cluster_state:ok"
  sleep 2
done
echo "cluster-init: cluster ready"
