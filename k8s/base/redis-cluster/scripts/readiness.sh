#!/bin/sh
# Ready when the node answers PING and has seen cluster_state:ok at least once since it started.
# The latch keeps a cluster-wide blip (a failover elsewhere) from taking every node out of its
# Service at once, while a node that never joined a healthy cluster is never ready.
set -eu
[ "$(redis-cli -p 6379 ping)" = "PONG" ] || exit 1
[ -f /tmp/cluster-state-ok ] && exit 0
redis-cli -p 6379 cluster info | grep -q '^cluster_state:ok' || exit 1
touch /tmp/cluster-state-ok
