#!/usr/bin/env bash
# Installs the real clients the interop tests drive against rekor-py, by module path at
# pinned versions, into a cache folder that a fresh machine rebuilds:
#
#   rekor-cli  github.com/sigstore/rekor/cmd/rekor-cli              (Go)
#   cosign     github.com/sigstore/cosign/v2/cmd/cosign             (Go)
#   cosign3    github.com/sigstore/cosign/v3/cmd/cosign             (Go; needs Go 1.27, see below)
#   crane      github.com/google/go-containerregistry/cmd/crane     (Go)
#   sigverify  tests/interop/go: our verifier built on sigstore-go   (Go)
#   kubectl-kyverno  tests/interop/kyverno: Kyverno's CLI at the version its go.mod requires (Go)
#   sigstore-js  tests/interop/js: @sigstore/verify from npm, at its lockfile's versions
#   registry   Debian's docker-registry package (a real OCI registry on 127.0.0.1)
#
# Cache: $REKOR_PY_INTEROP_CACHE, default ~/.cache/rekor-py/interop.  A tool is rebuilt
# only when its pinned version (or, for our own programs, their sources) changed.  Go's
# own module and build caches (GOMODCACHE, GOCACHE) make a rebuild cheap too.
#
# Where a module needs a newer Go than the machine's, GOTOOLCHAIN=go1.27.3 is the one way
# we use: the go command fetches that toolchain from the Go module proxy.
#
# Prints `name=path` lines on stdout, one per tool; progress goes to stderr.  Exits non-zero,
# naming the tool, if one cannot be installed: the interop tests then fail, they never skip.
set -euo pipefail

REKOR_CLI_VERSION=v1.5.4
COSIGN_VERSION=v2.6.5
COSIGN3_VERSION=v3.1.3
CRANE_VERSION=v0.22.1
TORCHWOOD_VERSION=v0.6.1
REKOR_TILES_VERSION=v2.3.0
NEWER_GO=go1.27.3

here=$(cd "$(dirname "$0")" && pwd)
cache=${REKOR_PY_INTEROP_CACHE:-$HOME/.cache/rekor-py/interop}
mkdir -p "$cache/bin"
log() { echo "install-clients: $*" >&2; }
# One installer at a time per cache (a second waits, then finds the tools built).
exec 9>"$cache/.lock"
flock 9

command -v go >/dev/null || { log "error: no Go on PATH (go version finds none)"; exit 1; }
command -v npm >/dev/null || { log "error: no npm on PATH"; exit 1; }

# go_install NAME MODULE/CMD VERSION [TOOLCHAIN]: builds into $cache/bin/NAME-VERSION and
# links $cache/bin/NAME to it.
go_install() {
  local name=$1 pkg=$2 version=$3 toolchain=${4:-local}
  local target="$cache/bin/$name-$version"
  if [ ! -x "$target" ]; then
    log "building $name $version ($pkg, GOTOOLCHAIN=$toolchain)"
    local start=$SECONDS tmpbin
    tmpbin=$(mktemp -d)
    if ! GOTOOLCHAIN=$toolchain GOBIN="$tmpbin" GOFLAGS=-mod=mod go install "$pkg@$version" >&2; then
      rm -rf "$tmpbin"
      log "error: could not build $name $version"
      return 1
    fi
    mv "$tmpbin/$(basename "$pkg")" "$target"
    rm -rf "$tmpbin"
    log "built $name $version in $((SECONDS - start)) s"
  fi
  ln -sfn "$target" "$cache/bin/$name"
  echo "$name=$cache/bin/$name"
}

# sources_stamp DIR: a digest of the files our own program is built from.
sources_stamp() {
  (cd "$1" && find . -type f ! -path './node_modules/*' ! -name '*.test' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

go_install rekor-cli github.com/sigstore/rekor/cmd/rekor-cli "$REKOR_CLI_VERSION"
go_install cosign github.com/sigstore/cosign/v2/cmd/cosign "$COSIGN_VERSION"
go_install cosign3 github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN3_VERSION" "$NEWER_GO"
go_install crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
# A witness written by others (c2sp.org/tlog-witness; SQLite through cgo).
go_install litewitness filippo.io/torchwood/cmd/litewitness "$TORCHWOOD_VERSION"
go_install witnessctl filippo.io/torchwood/cmd/witnessctl "$TORCHWOOD_VERSION"
# A log written by others that asks witnesses to cosign (Rekor v2 on Tessera's POSIX backend).
go_install rekor-tiles github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix "$REKOR_TILES_VERSION"

# Our sigstore-go verifier (tests/interop/go), built from this checkout.
if [ -d "$here/go" ]; then
  stamp=$(sources_stamp "$here/go")
  target="$cache/bin/sigverify-$stamp"
  if [ ! -x "$target" ]; then
    log "building sigverify ($here/go)"
    toolchain=local
    if grep -q "^go 1\.2[7-9]" "$here/go/go.mod"; then toolchain=$NEWER_GO; fi
    (cd "$here/go" && GOTOOLCHAIN=$toolchain go build -o "$target.tmp" .) >&2
    mv "$target.tmp" "$target"
  fi
  ln -sfn "$target" "$cache/bin/sigverify"
  echo "sigverify=$cache/bin/sigverify"
fi

# Kyverno's CLI, built through tests/interop/kyverno/go.mod (Kyverno's own module has a
# replace directive, so `go install ...@version` refuses it).  The largest build here.
stamp=$(sources_stamp "$here/kyverno")
target="$cache/bin/kubectl-kyverno-$stamp"
if [ ! -x "$target" ]; then
  log "building kubectl-kyverno ($here/kyverno)"
  start=$SECONDS
  (cd "$here/kyverno" && go build -o "$target.tmp" github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno) >&2
  mv "$target.tmp" "$target"
  log "built kubectl-kyverno in $((SECONDS - start)) s"
fi
ln -sfn "$target" "$cache/bin/kubectl-kyverno"
echo "kubectl-kyverno=$cache/bin/kubectl-kyverno"

# sigstore-js, installed from the lockfile into the cache (not into the checkout).
if [ -f "$here/js/package-lock.json" ]; then
  stamp=$(sources_stamp "$here/js")
  target="$cache/js-$stamp"
  if [ ! -d "$target/node_modules" ]; then
    log "installing sigstore-js (npm ci in $target)"
    rm -rf "$target" && mkdir -p "$target"
    cp -r "$here/js/." "$target/"
    (cd "$target" && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
  ln -sfn "$target" "$cache/js"
  echo "sigstore-js=$cache/js"
fi

# The OCI registry cosign signs images in: Debian's docker-registry (root installs it).
if ! [ -x /usr/bin/docker-registry ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian's docker-registry"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-registry; } >&2
    # The package starts a system-wide registry on :5000; the tests start their own.
    { systemctl disable --now docker-registry 2>/dev/null || pkill -u docker-registry -x docker-registry || true; } >&2
  else
    log "error: /usr/bin/docker-registry missing; install Debian's docker-registry package"
    exit 1
  fi
fi
echo "registry=/usr/bin/docker-registry"
