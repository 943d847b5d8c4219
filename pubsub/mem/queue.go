package mem

// deque is a growable ring buffer of entries. It is not safe for concurrent
// use; subscriptions guard theirs with their mutex.
type deque struct {
	buf  []*entry
	head int
	n    int
}

func (q *deque) len() int { return q.n }

func (q *deque) grow() {
	size := 2 * len(q.buf)
	if size < 16 {
		size = 16
	}
	q.resize(size)
}

func (q *deque) resize(size int) {
	nb := make([]*entry, size)
	if q.n > 0 {
		if q.head+q.n <= len(q.buf) {
			copy(nb, q.buf[q.head:q.head+q.n])
		} else {
			k := copy(nb, q.buf[q.head:])
			copy(nb[k:], q.buf[:q.n-k])
		}
	}
	q.buf, q.head = nb, 0
}

func (q *deque) pushBack(e *entry) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = e
	q.n++
}

func (q *deque) pushFront(e *entry) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = e
	q.n++
}

func (q *deque) popFront() *entry {
	if q.n == 0 {
		return nil
	}
	e := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	// Give memory back after a large backlog drains.
	if len(q.buf) > 1024 && q.n < len(q.buf)/8 {
		q.resize(len(q.buf) / 4)
	}
	return e
}

// leaseList is an intrusive doubly linked list of leased entries whose
// deadline is the subscription's ack deadline after the moment they were
// inserted. Insertions happen at the back with a clock read under the
// subscription lock, so the list is sorted by deadline and the deadline
// scan only looks at its front.
type leaseList struct {
	head, tail *entry
}

func (l *leaseList) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	e.inList = true
}

func (l *leaseList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next, e.inList = nil, nil, false
}

// deadlineHeap is a min-heap by deadline of the entries whose deadline was
// set by ExtendDoneDeadline, which may be any distance in the future.
// heapIdx is the entry's index plus one; zero means not in the heap.
type deadlineHeap []*entry

func (h *deadlineHeap) swap(i, j int) {
	(*h)[i], (*h)[j] = (*h)[j], (*h)[i]
	(*h)[i].heapIdx = i + 1
	(*h)[j].heapIdx = j + 1
}

func (h *deadlineHeap) less(i, j int) bool { return (*h)[i].deadline < (*h)[j].deadline }

func (h *deadlineHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *deadlineHeap) down(i int) {
	n := len(*h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h.less(c+1, c) {
			c++
		}
		if !h.less(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

func (h *deadlineHeap) push(e *entry) {
	*h = append(*h, e)
	e.heapIdx = len(*h)
	h.up(len(*h) - 1)
}

// fix restores the heap after e's deadline changed.
func (h *deadlineHeap) fix(e *entry) {
	i := e.heapIdx - 1
	h.up(i)
	h.down(e.heapIdx - 1)
}

func (h *deadlineHeap) remove(e *entry) {
	i := e.heapIdx - 1
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	e.heapIdx = 0
	if i != last {
		h.up(i)
		h.down(i)
	}
}
