package aws

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what a [Subscriber] has done since it was made. Every field
// only grows.
type Stats struct {
	// Received counts messages received from SQS.
	Received uint64
	// Delivered counts messages handed to the application.
	Delivered uint64
	// Deleted counts messages whose delete SQS confirmed.
	Deleted uint64
	// DeleteRetries counts deletes retried after a failed batch entry or
	// call.
	DeleteRetries uint64
	// DeleteFailures counts deletes that failed for good: those messages
	// are delivered again. Watch it.
	DeleteFailures uint64
	// Nacked counts messages handed back by Nack or ExtendDoneDeadline(0).
	Nacked uint64
	// HandedBack counts messages the subscriber handed back itself:
	// prefetched ones when it stopped, ones received while stopping, and
	// delivered ones still unsettled at the drain deadline.
	HandedBack uint64
	// Extended counts visibility extensions made by the heartbeat.
	Extended uint64
	// ExtendFailures counts heartbeat extensions that failed and were
	// not a lost lease.
	ExtendFailures uint64
	// LeasesLost counts messages whose receipt handle stopped holding them
	// before they were settled.
	LeasesLost uint64
	// ReceiveErrors counts failed receive calls (each retried).
	ReceiveErrors uint64
	// DecodeErrors counts messages delivered undecoded (see
	// [Message.DecodeError]).
	DecodeErrors uint64
}

type stats struct {
	received, delivered, deleted, deleteRetries, deleteFailures atomic.Uint64
	nacked, handedBack, extended, extendFailures, leasesLost    atomic.Uint64
	receiveErrors, decodeErrors                                 atomic.Uint64
}

func (s *stats) snapshot() Stats {
	return Stats{
		Received:       s.received.Load(),
		Delivered:      s.delivered.Load(),
		Deleted:        s.deleted.Load(),
		DeleteRetries:  s.deleteRetries.Load(),
		DeleteFailures: s.deleteFailures.Load(),
		Nacked:         s.nacked.Load(),
		HandedBack:     s.handedBack.Load(),
		Extended:       s.extended.Load(),
		ExtendFailures: s.extendFailures.Load(),
		LeasesLost:     s.leasesLost.Load(),
		ReceiveErrors:  s.receiveErrors.Load(),
		DecodeErrors:   s.decodeErrors.Load(),
	}
}

// collector exports a subscriber's Stats as Prometheus counters.
type collector struct {
	s     *stats
	descs []*prometheus.Desc
}

var statNames = []struct{ name, help string }{
	{"received", "Messages received from SQS."},
	{"delivered", "Messages handed to the application."},
	{"deleted", "Messages whose delete SQS confirmed."},
	{"delete_retries", "Deletes retried after a failed batch entry or call."},
	{"delete_failures", "Deletes that failed for good; those messages are delivered again."},
	{"nacked", "Messages handed back by Nack."},
	{"handed_back", "Messages the subscriber handed back itself while stopping."},
	{"extended", "Visibility extensions made by the heartbeat."},
	{"extend_failures", "Heartbeat extensions that failed other than by a lost lease."},
	{"leases_lost", "Messages whose lease was lost before they were settled."},
	{"receive_errors", "Failed receive calls, each retried."},
	{"decode_errors", "Messages delivered undecoded."},
}

func newCollector(s *stats, queue string) *collector {
	c := &collector{s: s}
	for _, n := range statNames {
		c.descs = append(c.descs, prometheus.NewDesc("gizmo_sqs_subscriber_"+n.name+"_total", n.help, nil, prometheus.Labels{"queue": queue}))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.snapshot()
	vals := []uint64{st.Received, st.Delivered, st.Deleted, st.DeleteRetries, st.DeleteFailures, st.Nacked,
		st.HandedBack, st.Extended, st.ExtendFailures, st.LeasesLost, st.ReceiveErrors, st.DecodeErrors}
	for i, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(vals[i]))
	}
}
