// Command pubsubemu runs pstest, the Google Cloud Pub/Sub emulator that
// ships with cloud.google.com/go/pubsub/v2, as a process of its own, for
// gizmo's Pub/Sub tests.
//
//	pubsubemu -addr 127.0.0.1:8085
//
// Clients reach it with PUBSUB_EMULATOR_HOST set to the address; any
// project ID works. Everything is kept in memory. It prints
// "PUBSUB READY <address>" once it listens.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "address to listen on; the host must be a loopback address")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "pubsubemu: -addr %q: want a loopback IP and a port\n", *addr)
		os.Exit(2)
	}
	// NewServerWithAddress panics if the address is taken; say so plainly.
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(os.Stderr, "pubsubemu: cannot listen on %s: %v\n", *addr, v)
			os.Exit(1)
		}
	}()
	srv := pstest.NewServerWithAddress(*addr)
	fmt.Println("PUBSUB READY", srv.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	_ = srv.Close()
}
