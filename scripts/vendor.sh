#!/usr/bin/env bash
# Copies the front-end files the page serves from node_modules into the Python package, so that
# pyfiledrop needs neither npm nor a CDN when it runs. After changing package.json:
#   npm install && scripts/vendor.sh   (then set DROPZONE_VERSION in src/pyfiledrop/config.py)
# tests/test_vendor.py checks that the committed copy is what this script makes from `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."
from=node_modules/dropzone
to=src/pyfiledrop/web/static/vendor/dropzone
if [ ! -f "$from/package.json" ]; then
  echo "vendor.sh: $from is missing: run npm ci first" >&2
  exit 1
fi
rm -rf "$to"
mkdir -p "$to"
cp "$from/LICENSE" "$from/dist/dropzone-min.js" "$from/dist/dropzone.css" "$from/dist/basic.css" "$to/"
echo "vendored dropzone $(node -p "require('./$from/package.json').version") into $to"
