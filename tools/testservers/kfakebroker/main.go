// Command kfakebroker runs franz-go's kfake, a Kafka-protocol broker written
// in Go, as a process of its own on 127.0.0.1, for gizmo's Kafka tests.
//
//	kfakebroker -ports 9092 [-partitions 3] [-data-dir DIR] [-no-auto-create]
//	            [-sasl-user MECHANISM:USER:PASSWORD ...] [-tls-cert FILE -tls-key FILE]
//
// With -data-dir, topics, records and group offsets survive a clean stop
// (SIGTERM or SIGINT); topics made by auto-creation survive only a clean
// stop, while those made with CreateTopics are written at once. Each
// -sasl-user (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) turns SASL on and
// adds a superuser; -tls-cert and -tls-key serve TLS. It prints
// "KFAKE READY <addresses>" once it listens.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	ports := flag.String("ports", "", "comma-separated ports to listen on, one broker each (required)")
	partitions := flag.Int("partitions", 3, "partitions of an auto-created topic")
	dataDir := flag.String("data-dir", "", "directory to keep data in across restarts (empty: memory only)")
	noAuto := flag.Bool("no-auto-create", false, "refuse produce and metadata requests for unknown topics")
	var users []string
	flag.Func("sasl-user", "MECHANISM:USER:PASSWORD of a SASL superuser; turns SASL on (repeatable)", func(v string) error {
		if strings.Count(v, ":") < 2 {
			return fmt.Errorf("want MECHANISM:USER:PASSWORD, got %q", v)
		}
		users = append(users, v)
		return nil
	})
	cert := flag.String("tls-cert", "", "PEM certificate to serve TLS with (with -tls-key)")
	key := flag.String("tls-key", "", "PEM key of -tls-cert")
	flag.Parse()
	var extra []kfake.Opt
	for _, u := range users {
		parts := strings.SplitN(u, ":", 3)
		extra = append(extra, kfake.Superuser(parts[0], parts[1], parts[2]))
	}
	if len(users) > 0 {
		extra = append(extra, kfake.EnableSASL())
	}
	if *cert != "" || *key != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfakebroker: -tls-cert, -tls-key:", err)
			os.Exit(2)
		}
		extra = append(extra, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}))
	}
	if err := run(*ports, *partitions, *dataDir, !*noAuto, extra); err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
}

func run(portList string, partitions int, dataDir string, autoCreate bool, extra []kfake.Opt) error {
	if portList == "" {
		return fmt.Errorf("-ports is required")
	}
	var ports []int
	for _, p := range strings.Split(portList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 || n > 65535 {
			return fmt.Errorf("-ports: %q is not a port", p)
		}
		ports = append(ports, n)
	}
	opts := []kfake.Opt{
		kfake.Ports(ports...),
		kfake.NumBrokers(len(ports)),
		kfake.DefaultNumPartitions(partitions),
	}
	if autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	opts = append(opts, extra...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	fmt.Println("KFAKE READY", strings.Join(c.ListenAddrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
	return nil
}
