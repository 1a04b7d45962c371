#!/usr/bin/env bash
# Stop the local Prefect server that `make serve` started (a server you run yourself is left alone).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${NEWSDESK_SERVER_DIR:-.prefect}"
PID="$(cat "$STATE/server.pid" 2>/dev/null || true)"
# the pid file may outlive the server (a reboot, a crash): only stop the process if it still is that server
if [ -n "$PID" ] && ps -p "$PID" -o args= 2>/dev/null | grep -q "prefect server start"; then
  kill "$PID" && rm -f "$STATE/server.pid" && echo "stopped the local Prefect server"
else
  rm -f "$STATE/server.pid"
  echo "no local Prefect server started by make serve is running"
fi
