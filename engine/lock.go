package engine

import (
	"context"
	"sync"
)

// ReservedHostClaimer hands each reserved host to one recovery at a time, as
// Masakari's per-host lock does: a host-failure recovery claims the reserved
// host it evacuates to, so that two failed hosts never both take it. The
// daemon's database implements it across engines (db.ReservedHostClaims);
// LocalClaims is the process-local one.
type ReservedHostClaimer interface {
	// ClaimReservedHost claims host for the notification, or returns
	// ErrLockHeld when another recovery holds it (or, in the database, once
	// the host is no longer reserved and this notification was not the last
	// to hold it). release gives the claim up; calling it again is harmless.
	ClaimReservedHost(ctx context.Context, notificationUUID, host string) (release func(), err error)
}

// LocalClaims is a process-local ReservedHostClaimer, Masakari's behaviour.
// Several engines on one database need the database's instead.
type LocalClaims struct {
	mu   sync.Mutex
	held map[string]bool
}

var _ ReservedHostClaimer = (*LocalClaims)(nil)

// NewLocalClaims returns a LocalClaims with no host claimed.
func NewLocalClaims() *LocalClaims { return &LocalClaims{held: map[string]bool{}} }

// ClaimReservedHost claims host or returns ErrLockHeld while anyone, this
// notification included, holds it.
func (l *LocalClaims) ClaimReservedHost(_ context.Context, _, host string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[host] {
		return nil, ErrLockHeld
	}
	l.held[host] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, host)
			l.mu.Unlock()
		})
	}, nil
}
