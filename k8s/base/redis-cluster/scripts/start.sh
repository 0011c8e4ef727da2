#!/bin/sh
# Starts one Redis Cluster node of the StatefulSet. Pod IPs change on every restart, but
# nodes.conf records peers by IP: before Redis reads it, rewrite every address from the peers'
# stable headless-Service hostnames (recorded in nodes.conf through cluster-announce-hostname),
# so that even a full restart, where every pod comes back with a new IP, re-forms the cluster.
set -eu

: "${POD_IP:?}" "${POD_NAMESPACE:?}" "${REDIS_HEADLESS_SERVICE:?}" "${REDIS_MAXMEMORY:?}"
domain="${REDIS_HEADLESS_SERVICE}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN:-cluster.local}"
# Kubernetes sets HOSTNAME to the pod name (redis-cluster-N).
my_host="${HOSTNAME:-$(hostname)}.${domain}"

if [ -s /data/nodes.conf ]; then
  /scripts/update-node-ips.sh /data/nodes.conf
fi

exec redis-server /etc/redis/redis.conf \
  --cluster-announce-ip "${POD_IP}" \
  --cluster-announce-hostname "${my_host}" \
  --maxmemory "${REDIS_MAXMEMORY}"
