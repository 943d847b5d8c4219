package observe

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seed8104ecd5/gizmo/internal/promutil"
	"github.com/seed8104ecd5/gizmo/pubsub"
)

// Metric names. Consumer metrics carry the label "consumer", publisher
// metrics "publisher": the names the program gives (a subscription, a
// topic). Outcomes are a short fixed list. Neither ever holds a message key
// or ID, so the number of series does not grow with traffic.
const (
	MetricReceived        = "pubsub_consumer_received_total"
	MetricHandled         = "pubsub_consumer_handled_total"
	MetricPanics          = "pubsub_consumer_panics_total"
	MetricHandlerDuration = "pubsub_consumer_handler_duration_seconds"
	MetricInFlight        = "pubsub_consumer_in_flight"
	MetricBackoff         = "pubsub_consumer_retry_backoff_seconds"
	MetricLeaseExtensions = "pubsub_consumer_lease_extensions_total"
	MetricLeasesLost      = "pubsub_consumer_leases_lost_total"
	MetricBacklog         = "pubsub_consumer_backlog_messages"
	MetricPublished       = "pubsub_publisher_messages_total"
	MetricBatches         = "pubsub_publisher_batches_total"
	MetricPublishDuration = "pubsub_publisher_duration_seconds"
)

// Metrics holds the Prometheus collectors of gizmo's consumers and
// publishers, registered on one registry. Make one per registry with
// [NewMetrics] and share it; it is safe for concurrent use.
type Metrics struct {
	received, handled, panics   *prometheus.CounterVec
	leaseExtensions, leasesLost *prometheus.CounterVec
	handlerDuration, backoff    *prometheus.HistogramVec
	inFlight                    *prometheus.GaugeVec
	published, batches          *prometheus.CounterVec
	publishDuration             *prometheus.HistogramVec
	backlog                     *backlogCollector
}

// NewMetrics registers the collectors on reg. A second call with the same
// registry returns metrics that share the first one's collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{}
	var err error
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		if err != nil {
			return nil
		}
		var c *prometheus.CounterVec
		c, err = promutil.RegisterOrReuse(reg, "pubsub", prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		if err != nil {
			return nil
		}
		var h *prometheus.HistogramVec
		h, err = promutil.RegisterOrReuse(reg, "pubsub", prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
		return h
	}
	m.received = counter(MetricReceived, "Messages a consumer took from its subscriber to handle.", "consumer")
	m.handled = counter(MetricHandled, "Handler attempts, by what came of them: done, retried, dead_lettered, given_up or abandoned.", "consumer", "outcome")
	m.panics = counter(MetricPanics, "Handler attempts that panicked or called runtime.Goexit.", "consumer")
	m.leaseExtensions = counter(MetricLeaseExtensions, "Lease extensions of messages a consumer held.", "consumer")
	m.leasesLost = counter(MetricLeasesLost, "Messages whose lease a consumer found lost.", "consumer")
	m.handlerDuration = histogram(MetricHandlerDuration, "How long handler attempts ran.", prometheus.DefBuckets, "consumer")
	m.backoff = histogram(MetricBackoff, "Waits between two attempts of a message.", []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "consumer")
	m.published = counter(MetricPublished, "Messages published, by outcome: ok or error.", "publisher", "outcome")
	m.batches = counter(MetricBatches, "PublishBatch calls, by outcome: ok, partial (some messages failed) or error (all failed).", "publisher", "outcome")
	m.publishDuration = histogram(MetricPublishDuration, "How long Publish, PublishRaw and PublishBatch calls took.", prometheus.DefBuckets, "publisher")
	if err != nil {
		return nil, err
	}
	if m.inFlight, err = promutil.RegisterOrReuse(reg, "pubsub", prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricInFlight, Help: "Handler attempts running now.",
	}, []string{"consumer"})); err != nil {
		return nil, err
	}
	if m.backlog, err = promutil.RegisterOrReuse(reg, "pubsub", newBacklogCollector()); err != nil {
		return nil, err
	}
	return m, nil
}

// consumerMetrics are one consumer's children, looked up once.
type consumerMetrics struct {
	received, panics, extensions, lost prometheus.Counter
	handled                            map[pubsub.Outcome]prometheus.Counter
	duration, backoff                  prometheus.Observer
	inFlight                           prometheus.Gauge
}

func (m *Metrics) consumer(name string) *consumerMetrics {
	c := &consumerMetrics{
		received:   m.received.WithLabelValues(name),
		panics:     m.panics.WithLabelValues(name),
		extensions: m.leaseExtensions.WithLabelValues(name),
		lost:       m.leasesLost.WithLabelValues(name),
		duration:   m.handlerDuration.WithLabelValues(name),
		backoff:    m.backoff.WithLabelValues(name),
		inFlight:   m.inFlight.WithLabelValues(name),
		handled:    make(map[pubsub.Outcome]prometheus.Counter),
	}
	for _, o := range []pubsub.Outcome{pubsub.OutcomeDone, pubsub.OutcomeRetried, pubsub.OutcomeDeadLettered, pubsub.OutcomeGivenUp, pubsub.OutcomeAbandoned} {
		c.handled[o] = m.handled.WithLabelValues(name, o.String())
	}
	return c
}

// publisherMetrics are one publisher's children, looked up once.
type publisherMetrics struct {
	ok, failed                 prometheus.Counter
	batchOK, batchSome, batchX prometheus.Counter
	duration                   prometheus.Observer
}

func (m *Metrics) publisher(name string) *publisherMetrics {
	return &publisherMetrics{
		ok:        m.published.WithLabelValues(name, "ok"),
		failed:    m.published.WithLabelValues(name, "error"),
		batchOK:   m.batches.WithLabelValues(name, "ok"),
		batchSome: m.batches.WithLabelValues(name, "partial"),
		batchX:    m.batches.WithLabelValues(name, "error"),
		duration:  m.publishDuration.WithLabelValues(name),
	}
}

// WatchBacklog makes the backlog gauge of consumer name read r at every
// scrape, for at most timeout (a scrape must not hang on a broker).
// Watching a name again replaces its reporter; a nil r stops watching.
func (m *Metrics) WatchBacklog(name string, r pubsub.BacklogReporter, timeout time.Duration) {
	m.backlog.set(name, r, timeout)
}

// backlogCollector asks each watched consumer for its backlog at scrape
// time.
type backlogCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	srcs map[string]backlogSource
}

type backlogSource struct {
	r       pubsub.BacklogReporter
	timeout time.Duration
}

func newBacklogCollector() *backlogCollector {
	return &backlogCollector{
		desc: prometheus.NewDesc(MetricBacklog, "Messages of a consumer's subscription not yet acknowledged (queue depth, group lag), read at scrape time.", []string{"consumer"}, nil),
		srcs: make(map[string]backlogSource),
	}
}

func (c *backlogCollector) set(name string, r pubsub.BacklogReporter, timeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == nil {
		delete(c.srcs, name)
		return
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c.srcs[name] = backlogSource{r, timeout}
}

// Describe sends the backlog gauge's description.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reads every watched backlog. A reporter that fails is left out
// of this scrape.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	srcs := make(map[string]backlogSource, len(c.srcs))
	for k, v := range c.srcs {
		srcs[k] = v
	}
	c.mu.Unlock()
	for name, s := range srcs {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		n, err := s.r.Backlog(ctx)
		cancel()
		if err == nil {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), name)
		}
	}
}
