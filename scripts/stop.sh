#!/usr/bin/env bash
# Stop the local Prefect server that `make serve` started (a server you run yourself is left alone).
set -euo pipefail
cd "$(dirname "$0")/.."
PID="$(cat .prefect/server.pid 2>/dev/null || true)"
# the pid file may outlive the server (a reboot, a crash): only stop the process if it still is that server
if [ -n "$PID" ] && ps -p "$PID" -o args= 2>/dev/null | grep -q "prefect server start"; then
  kill "$PID" && rm -f .prefect/server.pid && echo "stopped the local Prefect server"
else
  rm -f .prefect/server.pid
  echo "no local Prefect server started by make serve is running"
fi
