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
if [ -n "$SERVE" ] && ps -ww -p "$SERVE" -o args= 2>/dev/null | grep -qF -- "-m flows.serve"; then
  kill "$SERVE" 2>/dev/null || true  # it may have stopped on its own meanwhile
  # it finishes its shutdown (a run in progress is cancelled) before the server goes: Prefect's runner gives
  # a run 30 s to end after asking it to, then kills it and records it cancelled, so wait longer than that
  for _ in $(seq 1 90); do
    running "$SERVE" || break
    sleep 0.5
  done
  if running "$SERVE"; then  # the server stays up for it: run make stop again once it has stopped
    echo "error: the serving process $SERVE is still stopping; the Prefect server is left running" >&2
    exit 1
  fi
  echo "stopped serving the deployments"
fi
rm -f "$STATE/serve.pid"

PID="$(cat "$STATE/server.pid" 2>/dev/null || true)"
if [ -n "$PID" ] && ps -ww -p "$PID" -o args= 2>/dev/null | grep -q "prefect server start"; then
  kill "$PID" && rm -f "$STATE/server.pid" && echo "stopped the local Prefect server"
else
  rm -f "$STATE/server.pid"
  echo "no local Prefect server started by make serve is running"
fi
