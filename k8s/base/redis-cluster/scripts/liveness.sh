#!/bin/sh
# Alive while Redis answers at all: LOADING and MASTERDOWN are states Redis leaves by itself,
# restarting the pod would only make them longer.
reply="$(redis-cli -p 6379 ping 2>&1)"
case "$reply" in
  PONG | LOADING* | MASTERDOWN*) exit 0 ;;
  *) echo "liveness: ${reply}"; exit 1 ;;
esac
