package engine

import (
	"io"
	"sync"
)

// shared holds the per-run values of Env.Shared.
type shared struct {
	mu     sync.Mutex
	values map[any]any
	order  []any
}

func (s *shared) get(key any, create func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	if s.values == nil {
		s.values = map[any]any{}
	}
	s.values[key] = v
	s.order = append(s.order, key)
	return v, nil
}

// close closes every Closer in reverse creation order.
func (s *shared) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.order) - 1; i >= 0; i-- {
		if c, ok := s.values[s.order[i]].(io.Closer); ok {
			_ = c.Close()
		}
	}
	s.values, s.order = nil, nil
}
