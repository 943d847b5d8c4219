// Package testpb holds a small gRPC service, EchoService, that package server
// uses in its tests, benchmarks and examples. The Go code is generated from
// echo.proto by scripts/gen-proto.sh and committed.
package testpb
