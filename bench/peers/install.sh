#!/usr/bin/env bash
# Installs the peers that bench/bench_peers.py measures rekor-py against, at pinned
# versions, from their Go modules (no peer code is kept in this repository):
#
#   Rekor v1:  github.com/sigstore/rekor/cmd/rekor-server            v1.5.4
#              github.com/google/trillian/cmd/{trillian_log_server,trillian_log_signer,createtree}
#                                                                     v1.7.3 (rekor v1.5.4's go.mod)
#              MariaDB (Debian mariadb-server), Trillian's storage and Rekor's search index
#   Rekor v2:  github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix   v2.3.0
#              (the last release that builds with Go 1.26; v2.4.x wants Go 1.27)
#   driver:    wrk (Debian)
#
# Binaries go to $REKOR_PY_PEERS_CACHE (default ~/.cache/rekor-py/peers/), one folder
# per module version; a binary already there is not rebuilt. Prints one line per build
# with its wall time. Idempotent; needs root for apt-get (or the packages present).
set -euo pipefail

CACHE="${REKOR_PY_PEERS_CACHE:-$HOME/.cache/rekor-py/peers}"
REKOR_VERSION=v1.5.4
TRILLIAN_VERSION=v1.7.3
TILES_VERSION=v2.3.0
mkdir -p "$CACHE"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
{ command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; } || need_apt+=(mariadb-server mariadb-client)
if ((${#need_apt[@]})); then
  echo "apt-get install ${need_apt[*]}"
  apt-get update -qq
  # policy-rc.d on CI/dev machines keeps the system service from starting; the
  # benchmark starts its own mariadbd on a private datadir, socket and port anyway.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

build() {  # build DIR MODULE/PATH@VERSION...
  local dir="$CACHE/$1"; shift
  local missing=0
  for pkg in "$@"; do
    local name="${pkg%@*}"; name="${name##*/}"
    [[ -x "$dir/$name" ]] || missing=1
  done
  if ((missing)); then
    local t0=$SECONDS
    mkdir -p "$dir"
    GOBIN="$dir" GOFLAGS=-buildvcs=false go install "$@"
    echo "built $* in $((SECONDS - t0)) s -> $dir"
  else
    echo "cached: $dir"
  fi
}

build "trillian@$TRILLIAN_VERSION" \
  "github.com/google/trillian/cmd/trillian_log_server@$TRILLIAN_VERSION" \
  "github.com/google/trillian/cmd/trillian_log_signer@$TRILLIAN_VERSION" \
  "github.com/google/trillian/cmd/createtree@$TRILLIAN_VERSION"
build "rekor@$REKOR_VERSION" "github.com/sigstore/rekor/cmd/rekor-server@$REKOR_VERSION"
# The POSIX server's main package is cmd/rekor-server/posix, so go install names it "posix".
build "rekor-tiles@$TILES_VERSION" \
  "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix@$TILES_VERSION" || \
  echo "rekor-tiles $TILES_VERSION did not build (see above); bench_peers.py skips it"

# Trillian's MySQL schema, read at run time from the module cache.
go mod download "github.com/google/trillian@$TRILLIAN_VERSION"
echo "trillian schema: $(go env GOMODCACHE)/github.com/google/trillian@$TRILLIAN_VERSION/storage/mysql/schema/storage.sql"
