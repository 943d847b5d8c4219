package pubsub

import (
	"context"
	"errors"
	"testing"
)

// ackWaitMsg is a message whose backend confirms acknowledgements later.
type ackWaitMsg struct {
	*fakeMsg
	waited int
	err    error
}

func (m *ackWaitMsg) DoneWait(context.Context) error {
	m.waited++
	_ = m.Done()
	return m.err
}

func TestDoneWait(t *testing.T) {
	plain := newFakeMsg("1", "")
	if err := DoneWait(context.Background(), plain); err != nil || plain.state(t) != "done" {
		t.Errorf("DoneWait on a synchronous message: %v, %s", err, plain.state(t))
	}
	errLate := errors.New("the broker refused the ack")
	aw := &ackWaitMsg{fakeMsg: newFakeMsg("2", ""), err: errLate}
	if err := DoneWait(context.Background(), aw); !errors.Is(err, errLate) || aw.waited != 1 {
		t.Errorf("DoneWait on an AckWaiter = %v after %d waits, want its confirmation error", err, aw.waited)
	}

	// Through Consume's wrapper: the first settle wins and DoneWait reaches
	// the backend.
	aw = &ackWaitMsg{fakeMsg: newFakeMsg("3", "")}
	w := &tracked{m: aw}
	if err := DoneWait(context.Background(), w); err != nil || aw.waited != 1 {
		t.Errorf("DoneWait through the wrapper = %v after %d waits", err, aw.waited)
	}
	if err := DoneWait(context.Background(), w); err != nil || aw.waited != 1 {
		t.Errorf("a second DoneWait = %v after %d waits, want nil without reaching the backend", err, aw.waited)
	}
	if err := w.Nack(); err != nil || aw.nacks.Load() != 0 {
		t.Errorf("Nack after DoneWait reached the backend")
	}
}

func TestMessageAs(t *testing.T) {
	fm := newFakeMsg("1", "")
	w := &tracked{m: attemptMsg{fm, 4}}
	if got, ok := MessageAs[attemptMsg](w); !ok || got.fakeMsg != fm {
		t.Errorf("MessageAs through the wrapper = %v, %v", got, ok)
	}
	if _, ok := MessageAs[*fakeMsg](w); ok {
		t.Error("MessageAs found a type the chain does not hold")
	}
	if got, ok := MessageAs[*fakeMsg](fm); !ok || got != fm {
		t.Error("MessageAs on an unwrapped message")
	}
	if w.DeliveryAttempt() != 4 || (&tracked{m: fm}).DeliveryAttempt() != 0 {
		t.Error("the wrapper does not pass the delivery attempt on")
	}
}

// foreignMsg is a message from a backend outside gizmo: it cannot report
// its settlement, so Consume wraps it.
type foreignMsg struct{ SubscriberMessage }

// A handler that settles a foreign message and then fails is not retried
// either: the wrapper keeps track. The handler sees the wrapper, and
// MessageAs reaches the message behind it.
func TestConsumeWrapsForeignMessages(t *testing.T) {
	noLeak(t)
	fm := newFakeMsg("1", "")
	sub := newFakeSub(0, foreignMsg{fm})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	var sawWrapper, reached bool
	wait := runConsume(t, ctx, sub, func(_ context.Context, m SubscriberMessage) error {
		calls++
		_, sawWrapper = m.(*tracked)
		_, reached = MessageAs[foreignMsg](m)
		_ = m.Nack()
		return errors.New("after the settle")
	}, fastRetry(3), WithConcurrency(1))
	fm.waitSettled(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || fm.state(t) != "nack" || !sawWrapper || !reached {
		t.Errorf("calls %d, state %s, wrapper %v, MessageAs %v: want one call, the handler's Nack, a wrapper that MessageAs sees through",
			calls, fm.state(t), sawWrapper, reached)
	}
}
