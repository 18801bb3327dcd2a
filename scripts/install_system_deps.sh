#!/usr/bin/env bash
# Optional system packages: handwriting-style fonts (more ink variety for synthetic data),
# Tesseract (the peer baseline in `make bench`), Chromium (the browser test), PostgreSQL
# (the store's integration test) and shellcheck. Installed only where apt-get exists and we
# are root; everything in the course still works without them (tests that need one say so).
set -euo pipefail

PACKAGES=(
  fonts-dkg-handwriting fonts-dancingscript fonts-kristi fonts-breip fonts-femkeklaver
  fonts-humor-sans fonts-bwht fonts-dejavu-core
  tesseract-ocr chromium postgresql
)

if [[ "${SKIP_SYSTEM_DEPS:-0}" == 1 ]]; then
  echo ">>> SKIP_SYSTEM_DEPS=1: not installing system packages"; exit 0
fi
if ! command -v apt-get >/dev/null || [[ "$(id -u)" != 0 ]]; then
  echo ">>> no apt-get or not root: skipping optional system packages (${PACKAGES[*]})"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo ">>> system packages already present"; exit 0
fi
echo ">>> apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo ">>> WARNING: some system packages failed to install; continuing without them" >&2
fi
