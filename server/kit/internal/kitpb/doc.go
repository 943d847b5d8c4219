// Package kitpb holds a small gRPC service, ItemService, that package
// server/kit uses in its tests, benchmarks and examples. The Go code is
// generated from items.proto by scripts/gen-proto.sh and committed.
package kitpb
