#!/usr/bin/env bash
# Serve the scheduled ingest deployment; start a local Prefect server first when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PREFECT_PORT:-4200}"
API="${PREFECT_API_URL:-http://127.0.0.1:${PORT}/api}"
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
mkdir -p .prefect

healthy() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$API" 2>/dev/null; }

if ! healthy; then
  if [ -n "${PREFECT_API_URL:-}" ]; then
    echo "error: no Prefect server answers at $API (PREFECT_API_URL)" >&2
    exit 1
  fi
  echo "starting a local Prefect server on http://127.0.0.1:${PORT} (log: .prefect/server.log)"
  nohup .venv/bin/prefect server start --host 127.0.0.1 --port "$PORT" > .prefect/server.log 2>&1 &
  echo $! > .prefect/server.pid
  for _ in $(seq 1 180); do
    healthy && break
    if ! kill -0 "$(cat .prefect/server.pid)" 2>/dev/null; then
      echo "error: the Prefect server stopped while starting; see .prefect/server.log" >&2
      exit 1
    fi
    sleep 1
  done
  healthy || { echo "error: the Prefect server did not answer within 180 s; see .prefect/server.log" >&2; exit 1; }
fi
echo "Prefect UI: ${API%/api}  (deployment: ingest/$("$PY" -c 'from config.settings import load_settings; print(load_settings().schedule.deployment)'))"
export PREFECT_API_URL="$API"
exec "$PY" -m flows.serve "$@"
