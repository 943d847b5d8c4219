#!/usr/bin/env bash
# gen-proto.sh regenerates the committed Go code for the .proto files that
# gizmo ships for its own tests: server/internal/testpb/echo.proto (package
# server) and server/kit/internal/kitpb/items.proto (package server/kit).
#
# Toolchain (pinned; the generated code must compile against go.mod's
# google.golang.org/protobuf v1.36.12 and google.golang.org/grpc v1.85.0):
#
#   apt-get update && apt-get install -y protobuf-compiler   # protoc from Debian (3.21.x)
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
#
# protoc-gen-go-grpc v1.6.2 emits code that needs grpc.SupportPackageIsVersion9
# (grpc >= v1.64), which grpc v1.85.0 provides.
#
# Usage, from anywhere inside the repository:
#   scripts/gen-proto.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gobin="$(go env GOBIN)"
if [[ -z "${gobin}" ]]; then
	gobin="$(go env GOPATH)/bin"
fi
export PATH="${gobin}:${PATH}"

for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
	if ! command -v "${tool}" >/dev/null 2>&1; then
		echo "gen-proto.sh: ${tool} not found; see the install commands at the top of this script" >&2
		exit 1
	fi
done

want_go="protoc-gen-go v1.36.12"
want_grpc="protoc-gen-go-grpc 1.6.2"
if [[ "$(protoc-gen-go --version)" != "${want_go}" ]]; then
	echo "gen-proto.sh: want ${want_go}, have $(protoc-gen-go --version)" >&2
	exit 1
fi
if [[ "$(protoc-gen-go-grpc --version)" != "${want_grpc}" ]]; then
	echo "gen-proto.sh: want ${want_grpc}, have $(protoc-gen-go-grpc --version)" >&2
	exit 1
fi

cd "${root}"
for proto in server/internal/testpb/echo.proto server/kit/internal/kitpb/items.proto; do
	dir="$(dirname "${proto}")"
	protoc \
		--proto_path="${dir}" \
		--go_out="${dir}" --go_opt=paths=source_relative \
		--go-grpc_out="${dir}" --go-grpc_opt=paths=source_relative \
		"${proto}"
	echo "gen-proto.sh: regenerated ${dir}"
done
