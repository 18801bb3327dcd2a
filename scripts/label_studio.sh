#!/usr/bin/env bash
# Label Studio for Lab 06: its OWN virtual environment, bound to 127.0.0.1 only.
#
# Label Studio is a Django application with a few hundred MB of dependencies that would clash
# with the course's pinned environment, so it lives in .venv-label-studio/ and we talk to it
# only over HTTP (text_recognizer/annotation/label_studio.py). Nothing listens beyond loopback.
#
# Usage:
#   scripts/label_studio.sh install   # create .venv-label-studio/ (idempotent: a stamp file)
#   scripts/label_studio.sh start     # install if needed, start in the background, wait healthy
#   scripts/label_studio.sh status    # running? where? (exit 1 when not running)
#   scripts/label_studio.sh stop      # stop it (teardown); data stays in logs/label-studio/
#
# Settings (environment variables, all optional):
#   LABEL_STUDIO_PORT      port on 127.0.0.1                      (default 8080)
#   LABEL_STUDIO_HOME      data dir, PID file, log, credentials    (default logs/label-studio)
#   LABEL_STUDIO_VENV      the tool's own virtual environment      (default .venv-label-studio)
#   LABEL_STUDIO_USERNAME  admin e-mail  } taken from the environment, else generated with
#   LABEL_STUDIO_PASSWORD  admin password} Python's `secrets` on the first start, printed once
#   LABEL_STUDIO_USER_TOKEN API token    } and kept in $LABEL_STUDIO_HOME/credentials.env (0600)
#   PYTHON                 interpreter for the venv (default python3.11, else python3)
set -euo pipefail

cd "$(dirname "$0")/.."

abspath() { if [[ "$1" == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }

LS_SPEC="label-studio==1.23.*"
LS_CONSTRAINTS="requirements/label-studio-constraints.txt"
LS_VENV="${LABEL_STUDIO_VENV:-.venv-label-studio}"
LS_HOME="${LABEL_STUDIO_HOME:-logs/label-studio}"
LS_HOME="$(abspath "$LS_HOME")" # absolute: the server must not depend on the cwd
LS_PORT="${LABEL_STUDIO_PORT:-8080}"
LS_HOST="127.0.0.1"
PID_FILE="$LS_HOME/label-studio.pid"
PORT_FILE="$LS_HOME/label-studio.port"
LOG_FILE="$LS_HOME/label-studio.log"
CRED_FILE="$LS_HOME/credentials.env"
STAMP="$LS_VENV/.stamp-label-studio"
STAMP_TEXT="$LS_SPEC + constraints + migrated template db v2"
# A database with every migration applied, made once at install: a new data folder starts
# from a copy in seconds instead of migrating for minutes on a small CPU.
TEMPLATE_DB="$LS_VENV/template-data/label_studio.sqlite3"
PIP_NOISE="is ignored: it is neither a file nor a directory"
START_TIMEOUT_S="${LABEL_STUDIO_START_TIMEOUT:-600}"

# Offline and private: no analytics, no "new version" look-ups, no data under $HOME.
export COLLECT_ANALYTICS=false LATEST_VERSION_CHECK=false
export LABEL_STUDIO_BASE_DATA_DIR="$LS_HOME/data"

log() { echo ">>> label-studio: $*" >&2; }

py() { command -v "${PYTHON:-python3.11}" || command -v python3; }

is_installed() { [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$STAMP_TEXT" ]]; }

cmd_install() {
  if is_installed; then
    log "already installed in $LS_VENV ($LS_SPEC)"
    return 0
  fi
  local start
  start=$(date +%s)
  log "installing $LS_SPEC into $LS_VENV (its own venv; about 1 GB, 1-3 minutes)"
  [[ -x "$LS_VENV/bin/python" ]] || "$(py)" -m venv "$LS_VENV"
  # (This machine's pip config names local wheel folders and warns about each; hide that.)
  "$LS_VENV/bin/python" -m pip install -q --upgrade pip 2> >(grep -v "$PIP_NOISE" >&2)
  # Constrained to a known-good set: Label Studio leaves most dependencies open, and a new
  # major release of one (sentry-sdk 3.0) once broke its import.
  "$LS_VENV/bin/python" -m pip install -q "$LS_SPEC" -c "$LS_CONSTRAINTS" 2> >(grep -v "$PIP_NOISE" >&2)
  "$LS_VENV/bin/python" -c "import importlib.metadata as m; print('label-studio', m.version('label-studio'))"
  log "migrating a template database (once; every later start copies it)"
  rm -rf "$LS_VENV/template-data"
  # Exactly what `label-studio start` does first (boot Django, apply the migrations), then
  # exit. (Not `label-studio --version`: it goes on to start a server, on 0.0.0.0.)
  LABEL_STUDIO_BASE_DATA_DIR="$(abspath "$LS_VENV")/template-data" \
    XDG_CONFIG_HOME="$(abspath "$LS_VENV")/template-data/xdg" "$LS_VENV/bin/python" -c \
    "from label_studio.server import _apply_database_migrations, _setup_env
_setup_env()
_apply_database_migrations()" > "$LS_VENV/template-data.log" 2>&1 ||
    { tail -n 30 "$LS_VENV/template-data.log" >&2; return 1; }
  [[ -f "$TEMPLATE_DB" ]] || { log "no $TEMPLATE_DB after migrating"; return 1; }
  echo "$STAMP_TEXT" > "$STAMP"
  log "installed in $(($(date +%s) - start)) s"
}

pid_alive() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2> /dev/null; }

# Credentials: environment first, else the ones generated on an earlier start, else new ones.
load_credentials() {
  local generated=0
  local env_user="${LABEL_STUDIO_USERNAME:-}" env_pass="${LABEL_STUDIO_PASSWORD:-}"
  local env_token="${LABEL_STUDIO_USER_TOKEN:-}" env_key="${SECRET_KEY:-}"
  if [[ -f "$CRED_FILE" ]]; then
    # shellcheck disable=SC1090
    source "$CRED_FILE"
  fi
  # The environment wins over the file. (Label Studio creates the user on the FIRST start
  # of a data folder; to change credentials later, change them in the UI or start afresh.)
  LABEL_STUDIO_USERNAME="${env_user:-${LABEL_STUDIO_USERNAME:-}}"
  LABEL_STUDIO_PASSWORD="${env_pass:-${LABEL_STUDIO_PASSWORD:-}}"
  LABEL_STUDIO_USER_TOKEN="${env_token:-${LABEL_STUDIO_USER_TOKEN:-}}"
  SECRET_KEY="${env_key:-${SECRET_KEY:-}}"
  if [[ -z "${LABEL_STUDIO_USERNAME:-}" ]]; then
    LABEL_STUDIO_USERNAME="annotator-$("$(py)" -c 'import secrets; print(secrets.token_hex(3))')@localhost"
    generated=1
  fi
  if [[ -z "${LABEL_STUDIO_PASSWORD:-}" ]]; then
    LABEL_STUDIO_PASSWORD="$("$(py)" -c 'import secrets; print(secrets.token_urlsafe(16))')"
    generated=1
  fi
  if [[ -z "${LABEL_STUDIO_USER_TOKEN:-}" ]]; then
    LABEL_STUDIO_USER_TOKEN="$("$(py)" -c 'import secrets; print(secrets.token_hex(20))')"
    generated=1
  fi
  # Django's session-signing key: kept too, so browser logins survive a restart.
  if [[ -z "${SECRET_KEY:-}" ]]; then
    SECRET_KEY="$("$(py)" -c 'import secrets; print(secrets.token_urlsafe(40))')"
  fi
  export LABEL_STUDIO_USERNAME LABEL_STUDIO_PASSWORD LABEL_STUDIO_USER_TOKEN SECRET_KEY
  (
    umask 077
    printf 'LABEL_STUDIO_USERNAME=%q\nLABEL_STUDIO_PASSWORD=%q\nLABEL_STUDIO_USER_TOKEN=%q\nSECRET_KEY=%q\n' \
      "$LABEL_STUDIO_USERNAME" "$LABEL_STUDIO_PASSWORD" "$LABEL_STUDIO_USER_TOKEN" "$SECRET_KEY" \
      > "$CRED_FILE"
  )
  if ((generated)); then
    log "generated credentials (kept in $CRED_FILE, mode 0600):"
    echo "LABEL_STUDIO_USERNAME=$LABEL_STUDIO_USERNAME"
    echo "LABEL_STUDIO_PASSWORD=$LABEL_STUDIO_PASSWORD"
    echo "LABEL_STUDIO_USER_TOKEN=$LABEL_STUDIO_USER_TOKEN"
  fi
}

wait_healthy() {
  local start=$1
  local url="http://$LS_HOST:$LS_PORT/health"
  while ! "$(py)" -c "import sys, urllib.request; sys.exit(0 if b'UP' in urllib.request.urlopen('$url', timeout=2).read() else 1)" 2> /dev/null; do
    if ! pid_alive; then
      log "the server exited; last lines of $LOG_FILE:"
      tail -n 30 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if (($(date +%s) - start > START_TIMEOUT_S)); then
      log "not healthy after ${START_TIMEOUT_S} s; see $LOG_FILE"
      return 1
    fi
    sleep 1
  done
}

cmd_start() {
  cmd_install
  mkdir -p "$LS_HOME/data"
  if pid_alive; then
    log "already running (PID $(cat "$PID_FILE")) at http://$LS_HOST:$LS_PORT"
    return 0
  fi
  if [[ ! -f "$LS_HOME/data/label_studio.sqlite3" ]]; then
    cp "$TEMPLATE_DB" "$LS_HOME/data/label_studio.sqlite3"
  fi
  load_credentials
  # Label Studio keeps an anonymous server id in the user's config dir: keep it here instead.
  export XDG_CONFIG_HOME="$LS_HOME/xdg/config" XDG_DATA_HOME="$LS_HOME/xdg/data"
  export XDG_CACHE_HOME="$LS_HOME/xdg/cache"
  local start
  start=$(date +%s)
  log "starting on http://$LS_HOST:$LS_PORT (log: $LOG_FILE)"
  # --internal-host binds the socket to loopback (Label Studio's default is 0.0.0.0: every
  # interface); --host is the URL the UI builds links with. The credentials travel in the
  # exported LABEL_STUDIO_* variables, not on the command line (where `ps` would show them).
  # --enable-legacy-api-token lets the fixed LABEL_STUDIO_USER_TOKEN work (it must be on from
  # the very first start of a data dir). setsid: its own process group, so `stop` ends exactly
  # this server and whatever it spawned, nothing else.
  setsid "$LS_VENV/bin/label-studio" start \
    --no-browser \
    --internal-host "$LS_HOST" \
    --port "$LS_PORT" \
    --host "http://$LS_HOST:$LS_PORT" \
    --data-dir "$LS_HOME/data" \
    --enable-legacy-api-token \
    > "$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  echo "$LS_PORT" > "$PORT_FILE"
  wait_healthy "$start"
  log "healthy after $(($(date +%s) - start)) s (PID $(cat "$PID_FILE")); open http://$LS_HOST:$LS_PORT"
}

cmd_status() {
  if pid_alive; then
    local port
    port=$(cat "$PORT_FILE" 2> /dev/null || echo "$LS_PORT")
    echo "running: PID $(cat "$PID_FILE"), http://$LS_HOST:$port, data in $LS_HOME/data"
  else
    echo "not running"
    return 1
  fi
}

cmd_stop() {
  if ! pid_alive; then
    log "not running"
    rm -f "$PID_FILE"
    return 0
  fi
  local pid
  pid=$(cat "$PID_FILE")
  log "stopping PID $pid"
  kill -TERM -- "-$pid" 2> /dev/null || kill -TERM "$pid"
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2> /dev/null; then
    log "still alive after 10 s; sending KILL"
    kill -KILL -- "-$pid" 2> /dev/null || kill -KILL "$pid"
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
  log "stopped"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *)
    echo "usage: $0 install|start|status|stop" >&2
    exit 2
    ;;
esac
