#!/usr/bin/env bash
# Builds the real Consul agent from the Go module proxy and caches the binary
# outside the work tree. Idempotent: a cached binary is reused.
#
# Why a build: there is no Debian package for Consul and `go install` is refused
# because consul's go.mod has replace directives (see docs/development.md).
set -euo pipefail

CONSUL_VERSION="${CONSUL_VERSION:-v1.22.5}"
CACHE="${GIZMO_CACHE:-$HOME/.cache/gizmo}"
BIN="$CACHE/bin/consul-$CONSUL_VERSION"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE/bin" "$CACHE/src"
work="$(mktemp -d "$CACHE/src/consul-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "testenv: building consul $CONSUL_VERSION from source (5-10 minutes and 1.5 GB of build cache when cold)" >&2
dir="$(GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/consul@$CONSUL_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
if [[ -z "$dir" || ! -d "$dir" ]]; then
  echo "testenv: could not download consul $CONSUL_VERSION" >&2
  exit 1
fi
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
cd "$work"
for m in api sdk proto-public envoyextensions troubleshoot; do
  go mod edit -dropreplace "github.com/hashicorp/consul/$m"
done
# CGO off: the agent needs no cgo, and the build stays self-contained.
# The tests need a working agent, not a fast or debuggable one: without
# optimisation, inlining and debug info the cold build takes about 40% less
# time and a quarter less build cache (measured in docs/development.md).
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
  -gcflags='all=-N -l -dwarf=false' -ldflags='-s -w' -o "$BIN.tmp" .
mv "$BIN.tmp" "$BIN"
echo "$BIN"
