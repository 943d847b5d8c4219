package http

// ActiveRequests returns how many requests s is serving, for tests that
// need a request to be in flight before they go on.
func ActiveRequests(s *Subscriber) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}
