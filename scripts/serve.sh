#!/usr/bin/env bash
# Serve the scheduled ingest deployment; start a local Prefect server first when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PREFECT_PORT:-4200}"
API="${PREFECT_API_URL:-http://127.0.0.1:${PORT}/api}"
STATE="${NEWSDESK_SERVER_DIR:-.prefect}"  # the local server's log and pid file (scripts/stop.sh reads the pid)
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
mkdir -p "$STATE"

# the config first: a mistake in it is one line, with no server started for nothing
"$PY" -m flows.serve --check "$@" || exit $?

# one make serve at a time: a second would serve the same deployments, and make stop would know only one.
# The lock is held from here (while a server starts, too) and, through exec, by flows.serve until it ends.
exec 9>"$STATE/serve.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "error: make serve is already serving or starting (lock $STATE/serve.lock); make stop stops it" >&2
  exit 2
fi
OLD="$(cat "$STATE/serve.pid" 2>/dev/null || true)"
if [ -n "$OLD" ] && ps -ww -p "$OLD" -o args= 2>/dev/null | grep -qF -- "-m flows.serve"; then
  echo "error: make serve is already serving (process $OLD); make stop stops it" >&2
  exit 2
fi

healthy() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$API" 2>/dev/null; }

if ! healthy; then
  if [ -n "${PREFECT_API_URL:-}" ]; then
    echo "error: no Prefect server answers at $API (PREFECT_API_URL)" >&2
    exit 1
  fi
  echo "starting a local Prefect server on http://127.0.0.1:${PORT} (log: $STATE/server.log)"
  # The UI asks /ui-settings which API to call; unless told, the server answers port 4200 whatever
  # port it listens on, and a UI served on another port would show another server's data or none.
  # Not given the serve lock (fd 9): the server outlives serving, and would refuse the next make serve.
  PREFECT_SERVER_UI_API_URL="${PREFECT_SERVER_UI_API_URL:-${PREFECT_UI_API_URL:-$API}}" \
    nohup .venv/bin/prefect server start --host 127.0.0.1 --port "$PORT" > "$STATE/server.log" 2>&1 9>&- &
  echo $! > "$STATE/server.pid"
  for _ in $(seq 1 180); do
    healthy && break
    if ! kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then
      echo "error: the Prefect server stopped while starting; see $STATE/server.log" >&2
      exit 1
    fi
    sleep 1
  done
  healthy || { echo "error: the Prefect server did not answer within 180 s; see $STATE/server.log" >&2; exit 1; }
fi
echo "Prefect UI: ${API%/api}"
export PREFECT_API_URL="$API"
echo $$ > "$STATE/serve.pid"  # this process becomes flows.serve: scripts/stop.sh stops it before the server
exec "$PY" -m flows.serve "$@"
