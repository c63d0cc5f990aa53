package engine

import (
	"context"
	"sync"
)

// LocalLocker is a process-local Locker, Masakari's behaviour for reserved
// hosts. Several engines on one database need a database lock instead.
type LocalLocker struct {
	mu   sync.Mutex
	held map[string]bool
}

var _ Locker = (*LocalLocker)(nil)

// NewLocalLocker returns an empty LocalLocker.
func NewLocalLocker() *LocalLocker { return &LocalLocker{held: map[string]bool{}} }

// TryLock takes name or returns ErrLockHeld.
func (l *LocalLocker) TryLock(_ context.Context, name string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return nil, ErrLockHeld
	}
	l.held[name] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, name)
			l.mu.Unlock()
		})
	}, nil
}
