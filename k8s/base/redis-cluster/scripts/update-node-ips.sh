#!/bin/sh
# update-node-ips.sh NODES_CONF
#
# Rewrites the address of every node in a Redis Cluster nodes.conf whose line carries a
# hostname (Redis 7 writes "<id> <ip>:<port>@<bus>,<hostname> <flags> ..."): this node's own
# line gets $POD_IP, every peer the address its hostname resolves to now. A peer whose name does
# not resolve before the deadline keeps its old address; gossip corrects it once that peer is up
# and reaches this node. Lines without a hostname and the "vars" line are kept as they are.
set -eu
set -f # slot migration entries such as [93->-<id>] must not be expanded as globs

conf="$1"
deadline=$(( $(date +%s) + ${RESOLVE_TIMEOUT_SECONDS:-60} ))

resolve() {
  while :; do
    ip="$(getent hosts "$1" | awk '{ print $1; exit }')" || ip=""
    if [ -n "$ip" ]; then printf '%s\n' "$ip"; return 0; fi
    [ "$(date +%s)" -lt "$deadline" ] || return 0
    sleep 2
  done
}

tmp="${conf}.rewrite"
: > "$tmp"
while IFS= read -r line || [ -n "$line" ]; do
  # shellcheck disable=SC2086 # word splitting into fields is the point
  set -- $line
  id="${1:-}" addr="${2:-}" flags="${3:-}"
  case "$addr" in
    *:*@*,?*) ;;
    *) printf '%s\n' "$line" >> "$tmp"; continue ;;
  esac
  old_ip="${addr%%:*}"
  host="${addr#*,}"
  case "$flags" in
    *myself*) new_ip="${POD_IP:?}" ;;
    *) new_ip="$(resolve "$host")" ;;
  esac
  if [ -n "$new_ip" ] && [ "$new_ip" != "$old_ip" ]; then
    echo "update-node-ips: ${id} ${host}: ${old_ip} -> ${new_ip}" >&2
    line="${id} ${new_ip}:${addr#*:}${line#"${id} ${addr}"}"
  fi
  printf '%s\n' "$line" >> "$tmp"
done < "$conf"
mv "$tmp" "$conf"
