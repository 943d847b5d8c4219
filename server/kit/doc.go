// Package kit will serve go-kit endpoints over HTTP and gRPC from one set of
// endpoints, reusing package server's observability, health and shutdown.
//
// It is not implemented yet: this package exports nothing, so nothing can
// depend on it by mistake.
package kit
