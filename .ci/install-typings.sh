#!/usr/bin/env bash
# The platforms' official typings for the shape tests (testing/testkit/src/shapes.rs): Node.js
# and npm from Debian if missing, then the pinned @grammyjs/types, discord-api-types and
# typescript from the lock file (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm
  else
    echo "install Node.js and npm with your package manager" >&2
    exit 1
  fi
fi
(cd testing/testkit/shapes && npm ci --no-audit --no-fund)
