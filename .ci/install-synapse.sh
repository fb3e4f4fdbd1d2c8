#!/usr/bin/env bash
# Installs what the Matrix tests need to run a real Synapse: python3 with the venv module, and
# matrix-synapse (pinned) in the venv the launcher in testing/testkit/src/synapse uses.
# Idempotent: a finished install is detected by the same stamp file the launcher checks.
set -euo pipefail

SYNAPSE_VERSION=1.163.2
VENV="${CIVICBRIDGE_SYNAPSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/civicbridge/synapse-venv}"
STAMP="$VENV/.civicbridge-synapse-$SYNAPSE_VERSION"

if [ -f "$STAMP" ]; then
  echo "synapse $SYNAPSE_VERSION already installed in $VENV"
  exit 0
fi

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "$@"
  else
    echo "install $* with your package manager" >&2
    exit 1
  fi
}

command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv

probe="$(mktemp -d)"
if ! python3 -m venv "$probe/v" >/dev/null 2>&1; then
  apt_install python3-venv
fi
rm -rf "$probe"

mkdir -p "$(dirname "$VENV")"
# The same lock the Rust launcher takes (flock on "$VENV.lock"), so the two never install at once.
exec 9>"${VENV%/}.lock"
flock 9
if [ -f "$STAMP" ]; then
  echo "synapse $SYNAPSE_VERSION already installed in $VENV"
  exit 0
fi
python3 -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "matrix-synapse==$SYNAPSE_VERSION"
echo "$SYNAPSE_VERSION" > "$STAMP"
echo "installed synapse $SYNAPSE_VERSION in $VENV"
