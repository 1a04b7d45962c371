#!/usr/bin/env bash
# Stop the local Prefect server that `make serve` started (a server you run yourself is left alone).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .prefect/server.pid ] && kill -0 "$(cat .prefect/server.pid)" 2>/dev/null; then
  kill "$(cat .prefect/server.pid)" && rm -f .prefect/server.pid && echo "stopped the local Prefect server"
else
  rm -f .prefect/server.pid
  echo "no local Prefect server started by make serve is running"
fi
