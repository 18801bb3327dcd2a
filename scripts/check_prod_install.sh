#!/usr/bin/env bash
# The prod-wheel test stage: build the wheel, install it (not editable) into a venv that
# holds only requirements/prod.txt + requirements/monitor.txt, and run
# scripts/check_prod_install.py from outside the checkout (predict, backend, monitoring, and
# no training-only module imported).
# The venv (.venv-prod) is reused while the two pin files are unchanged; the wheel is
# rebuilt and reinstalled every time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
PROD=.venv-prod
STAMP="$PROD/.stamp"
WANT="$(cat requirements/prod.txt requirements/monitor.txt | sha256sum | cut -c1-16)"
# This machine's pip config points at local wheel folders and warns about each one; hide that.
quiet_pip() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

if [[ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]]; then
  echo "creating $PROD from requirements/prod.txt + requirements/monitor.txt"
  rm -rf "$PROD"
  "$PYTHON" -m venv "$PROD"
  quiet_pip "$PROD/bin/python" -m pip install -q --disable-pip-version-check \
    -r requirements/prod.txt -r requirements/monitor.txt
  echo "$WANT" > "$STAMP"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Build from a copy of the tracked files, so no build/ or egg-info lands in the checkout and
# nothing untracked (logs, data, checkpoints) can sneak into the wheel.
mkdir -p "$WORK/src"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
quiet_pip .venv/bin/python -m pip wheel -q --no-deps --no-build-isolation \
  --disable-pip-version-check -w "$WORK/dist" "$WORK/src"
WHEEL="$(ls "$WORK"/dist/text_recognizer-*.whl)"
echo "built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"
quiet_pip "$PROD/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
  --force-reinstall "$WHEEL"

# Offline and account-free, as in the rest of the suite; run from an empty directory.
mkdir -p "$WORK/run"
cd "$WORK/run"
env -u PYTHONPATH GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 MPLBACKEND=Agg \
  XDG_CACHE_HOME="$WORK/cache" "$ROOT/$PROD/bin/python" "$ROOT/scripts/check_prod_install.py"
