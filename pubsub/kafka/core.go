package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// deliverBuffer is how many messages wait in the delivery channel for the
// application. They are out as far as the partitions' watermarks go; Stop
// takes them back before it waits for the rest. A few dozen spare the
// partitions' goroutines a hand-off per message.
const deliverBuffer = 64

// core is what a Subscriber and a Reader share: the delivery channel, the
// partitions' epochs, and Stop's drain.
type core struct {
	log  *slog.Logger
	name string // for errors and logs

	out      chan pubsub.SubscriberMessage // deliverBuffer messages
	sendMu   sync.RWMutex                  // held for reading while sending on out; drain takes it to end the sends
	noSend   bool                          // set under sendMu: nothing is sent on out any more
	stopCh   chan struct{}                 // closed when Stop begins
	drainEnd chan struct{}                 // closed when Stop's drain is over
	idleCh   chan struct{}                 // capacity 1: nothing is out, while stopping
	done     chan struct{}                 // closed once out is closed and err is final
	inflight atomic.Int64                  // messages out with the application
	stopping atomic.Bool

	mu       sync.Mutex
	epochs   map[*epoch]struct{}
	drained  bool // Stop's drain is over: no new epoch delivers
	err      error
	stopErr  error
	finished bool

	startOnce sync.Once
	stopOnce  sync.Once
}

func newCore(name string, log *slog.Logger) *core {
	return &core{
		log: log, name: name,
		out:      make(chan pubsub.SubscriberMessage, deliverBuffer),
		stopCh:   make(chan struct{}),
		drainEnd: make(chan struct{}),
		idleCh:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		epochs:   make(map[*epoch]struct{}),
	}
}

// onIdle counts messages going out to the application and coming back.
func (c *core) onIdle(delta int64) {
	if c.inflight.Add(delta) == 0 && c.stopping.Load() {
		select {
		case c.idleCh <- struct{}{}:
		default:
		}
	}
}

// register adds ep; it reports false once Stop's drain is over.
func (c *core) register(ep *epoch) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drained {
		return false
	}
	c.epochs[ep] = struct{}{}
	return true
}

func (c *core) unregister(ep *epoch) {
	c.mu.Lock()
	delete(c.epochs, ep)
	c.mu.Unlock()
}

// deliver hands ep's records (read from msgs, or Nacked) to the application
// one at a time, in order, until msgs closes, revoked ends, or Stop begins
// (stopping is then true). The common case, a record ready and a receiver
// waiting, takes no select.
func (c *core) deliver(ep *epoch, msgs <-chan *sarama.ConsumerMessage, revoked context.Context, w doneWaiter) (stopping bool) {
	done := revoked.Done()
	for {
		if c.stopping.Load() {
			return true
		}
		if revoked.Err() != nil {
			return false
		}
		rec, seq, st := ep.nextRedo()
		switch st {
		case redoFull:
			select {
			case <-ep.wake:
				continue
			case <-done:
				return false
			case <-c.stopCh:
				return true
			}
		case redoNone:
			var ok bool
			select {
			case rec, ok = <-msgs:
			default:
				select {
				case <-c.stopCh:
					return true
				case <-done:
					return false
				case <-ep.wake:
					continue
				case rec, ok = <-msgs:
				}
			}
			if !ok {
				return false
			}
			if seq, ok = ep.addOut(rec.Offset); !ok {
				return false
			}
		}
		c.onIdle(1)
		if stop, sent := c.send(newMessage(ep, rec, seq, w), done); !sent {
			ep.unsend(seq)
			return stop
		}
	}
}

// send puts m on the delivery channel. It gives up when Stop begins
// (stop) or the partition is revoked.
func (c *core) send(m *Message, revoked <-chan struct{}) (stop, sent bool) {
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.noSend {
		return true, false
	}
	select {
	case c.out <- m:
		return false, true
	default:
	}
	select {
	case c.out <- m:
		return false, true
	case <-c.stopCh:
		return true, false
	case <-revoked:
		return false, false
	}
}

// takeBack ends the sends on the delivery channel and takes back the
// messages waiting in it, as if they had never been sent.
func (c *core) takeBack() {
	c.sendMu.Lock() // every send under way sees stopCh and returns
	c.noSend = true
	c.sendMu.Unlock()
	c.sweep()
}

// takeBackRevoked takes back the messages waiting in the delivery channel
// when a group session ends: every partition of the session is revoked at
// once, and the next session sends nothing before they are all released.
func (c *core) takeBackRevoked() {
	c.sendMu.Lock() // every send under way sees its session end and returns
	defer c.sendMu.Unlock()
	c.sweep()
}

func (c *core) sweep() {
	for {
		select {
		case m := <-c.out:
			km := m.(*Message)
			km.ep.unsend(km.seq)
		default:
			return
		}
	}
}

// release ends ep after deliver returned: it waits for ep's messages out
// with the application to be settled, for at most grace after a revoke or
// until Stop's drain is over, then closes ep. It returns how many were
// still out.
func (c *core) release(ep *epoch, stopping bool, grace time.Duration) int {
	if !stopping {
		timer := time.NewTimer(grace)
		defer timer.Stop()
	wait:
		for !ep.idle() {
			select {
			case <-ep.wake:
			case <-timer.C:
				break wait
			case <-c.stopCh:
				stopping = true
				break wait
			}
		}
	}
	if stopping {
		<-c.drainEnd
	}
	return ep.close(stopping)
}

// drain carries out Stop's wait: messages out with the application get
// until ctx ends to be settled; then every epoch is closed. It returns an
// error wrapping pubsub.ErrDrainTimeout if some were not.
func (c *core) drain(ctx context.Context) error {
	c.stopping.Store(true)
	close(c.stopCh)
	c.takeBack()
	for c.inflight.Load() > 0 {
		select {
		case <-c.idleCh:
			continue
		case <-ctx.Done():
		}
		break
	}
	c.mu.Lock()
	c.drained = true
	eps := make([]*epoch, 0, len(c.epochs))
	for ep := range c.epochs {
		eps = append(eps, ep)
	}
	c.mu.Unlock()
	unsettled := 0
	for _, ep := range eps {
		unsettled += ep.close(true)
	}
	close(c.drainEnd)
	if unsettled > 0 {
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka: messages not settled before the drain deadline; they are delivered again",
			slog.String("subscriber", c.name), slog.Int("unsettled", unsettled))
		return fmt.Errorf("kafka: %s: %d messages were not settled and are delivered again: %w (%w)", c.name, unsettled, pubsub.ErrDrainTimeout, context.Cause(ctx))
	}
	return nil
}

// finish closes the channel with the terminal error err (nil after Stop).
func (c *core) finish(err, stopErr error) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	c.err, c.stopErr = err, stopErr
	c.mu.Unlock()
	close(c.out)
	close(c.done)
}

// Err returns the terminal error once the channel is closed.
func (c *core) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *core) lags() []PartitionLag {
	c.mu.Lock()
	eps := make([]*epoch, 0, len(c.epochs))
	for ep := range c.epochs {
		eps = append(eps, ep)
	}
	c.mu.Unlock()
	out := make([]PartitionLag, 0, len(eps))
	for _, ep := range eps {
		out = append(out, ep.lag())
	}
	return out
}

// sleep waits d or until Stop begins; it reports false if Stop began.
func (c *core) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stopCh:
		return false
	}
}
