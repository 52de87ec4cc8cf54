#!/usr/bin/env bash
# `redis-server ARGS...` as the official image runs it: reachable from the other containers.
set -euo pipefail
if [ "${1:-}" = redis-server ]; then
    shift
    exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data "$@"
fi
exec "$@"
