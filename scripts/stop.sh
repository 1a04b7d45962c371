#!/usr/bin/env bash
# Stop what `make serve` started: the process serving the deployments, then the local Prefect server
# (a server you run yourself is left alone).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${NEWSDESK_SERVER_DIR:-.prefect}"

# pid files may outlive their process (a reboot, a crash): only stop a process that still is the one meant
# running: the process exists and has not exited (a zombie waits only for its parent to collect it)
running() { local stat; stat="$(ps -p "$1" -o stat= 2>/dev/null)" && [ -n "$stat" ] && [ "${stat#Z}" = "$stat" ]; }

SERVE="$(cat "$STATE/serve.pid" 2>/dev/null || true)"
if [ -n "$SERVE" ] && ps -p "$SERVE" -o args= 2>/dev/null | grep -q "flows.serve"; then
  kill "$SERVE"
  for _ in $(seq 1 60); do  # it finishes its shutdown (a run in progress is cancelled) before the server goes
    running "$SERVE" || break
    sleep 0.5
  done
  if running "$SERVE"; then
    echo "the serving process $SERVE is still stopping" >&2
  else
    echo "stopped serving the deployments"
  fi
fi
rm -f "$STATE/serve.pid"

PID="$(cat "$STATE/server.pid" 2>/dev/null || true)"
if [ -n "$PID" ] && ps -p "$PID" -o args= 2>/dev/null | grep -q "prefect server start"; then
  kill "$PID" && rm -f "$STATE/server.pid" && echo "stopped the local Prefect server"
else
  rm -f "$STATE/server.pid"
  echo "no local Prefect server started by make serve is running"
fi
