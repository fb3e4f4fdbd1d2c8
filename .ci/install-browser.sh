#!/usr/bin/env bash
# The console's browser tests (crates/civicbridge/tests/daemon/console_browser.rs and
# tests/e2e/console_e2e.rs, helpers in tests/common/browser.rs): Debian's
# chromium and chromium-driver if missing, then the pinned axe-core from the lock file
# (idempotent). The tests use the system Chromium; nothing downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver
  else
    echo "install chromium and its chromedriver with your package manager" >&2
    exit 1
  fi
fi
if ! command -v npm >/dev/null 2>&1; then
  bash .ci/install-typings.sh
fi
(cd testing/testkit/axe && npm ci --no-audit --no-fund)
