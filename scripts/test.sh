#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs them.
# Python packages from PyPI (pinned in constraints.txt), front-end packages from npm
# (package-lock.json), Chromium from Debian for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
npm ci --no-audit --no-fund --loglevel=error
python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
exec python3 -m pytest "$@"
