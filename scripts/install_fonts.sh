#!/usr/bin/env bash
# Install the handwriting typefaces for synthetic data: `make fonts` (part of `make install`).
#
# fonts/package.json pins one @fontsource/<family> package per Google Fonts handwriting
# family; `npm ci` installs exactly fonts/package-lock.json, checking every tarball against
# its sha512, from npm's own cache after the first time. Nothing runs at test time, and
# without npm (or offline with an empty cache) the course keeps working with the Hershey
# and system fonts: this step warns and goes on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fonts"

stamp=node_modules/.installed-from-lock
if [[ -f $stamp && $stamp -nt package-lock.json ]]; then
  echo ">>> handwriting fonts already installed ($(find node_modules/@fontsource -mindepth 1 -maxdepth 1 -type d | wc -l) packages)"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo ">>> npm not found: skipping the npm handwriting fonts (Hershey and system fonts only)"
  exit 0
fi
echo ">>> npm ci: $(grep -c '"@fontsource/' package.json) handwriting font packages (pinned, checksummed)"
if npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null; then
  touch "$stamp"
else
  echo ">>> WARNING: npm ci failed; continuing without the npm handwriting fonts" >&2
fi
