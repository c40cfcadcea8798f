#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs them.
# Python packages from PyPI (pinned in constraints.txt), front-end packages from npm
# (package-lock.json), Chromium from Debian for the browser tests, PostgreSQL from Debian for the
# metadata store's second back end, nginx from Debian for the README's deployment
# (tests/test_nginx.py), systemd from Debian for `systemd-analyze verify` of deploy/'s unit
# (tests/test_deploy.py, which also builds and runs the Docker image where Docker works).
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL's programs live under /usr/lib/postgresql/<version>/bin; the tests start their own
# throw-away cluster from there (and fail, not skip, when it is missing).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v curl >/dev/null 2>&1 || missing+=(curl)  # tests/web/test_curl.py: the real client
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
npm ci --no-audit --no-fund --loglevel=error
python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
# Two worker processes (pytest-xdist), each taking a whole test file at a time, so a file's
# module-scoped servers and browser start once; TEST_WORKERS=0 runs everything in this process.
exec python3 -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
