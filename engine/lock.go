package engine

import (
	"context"
	"slices"
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

// ServerLocker remembers the servers a recovery locked in Nova, durably with
// the run, so that a lock kaifuku took is released even when the daemon
// died before its own unlock: a task records the lock before it asks Nova
// for it and forgets it once Nova unlocked the server. A resumed task takes
// a locked server with a record for its own lock (and unlocks it); one
// without a record was locked by someone else and is left alone. When a
// notification ends, the locks still recorded for it are released
// (recovery.Manager). The daemon's database implements it
// (db.ServerLocks); LocalServerLocks is the process-local one.
type ServerLocker interface {
	// RecordServerLock remembers that the notification's recovery is about
	// to lock the server; recording it again is harmless.
	RecordServerLock(ctx context.Context, notificationUUID, serverID string) error
	// ForgetServerLock drops the record once the server is unlocked;
	// forgetting a record that does not exist is harmless. It may return
	// before the record is gone on disk, as VMoveRecorder.UpdateVMove: a
	// crash before then leaves a record of a lock already released, which
	// the notification's end releases again. failed is told why the record
	// could not be dropped.
	ForgetServerLock(notificationUUID, serverID string, failed func(error))
	// ServerLocks lists the servers still recorded for the notification, in
	// server id order.
	ServerLocks(ctx context.Context, notificationUUID string) ([]string, error)
}

// LocalServerLocks is a process-local ServerLocker: it survives no restart,
// which is enough where nothing resumes (kaifuku run, the test harness).
type LocalServerLocks struct {
	mu   sync.Mutex
	held map[heldLock]struct{}
}

// heldLock is a server locked by a notification's recovery. The records are
// one flat map, not a map per notification: a host's evacuations record and
// forget a few locks at a time, and an inner map emptied and made again at
// each was two allocations per server.
type heldLock struct{ notificationUUID, serverID string }

var _ ServerLocker = (*LocalServerLocks)(nil)

// NewLocalServerLocks returns a LocalServerLocks with nothing recorded.
func NewLocalServerLocks() *LocalServerLocks {
	return &LocalServerLocks{held: map[heldLock]struct{}{}}
}

// RecordServerLock records the server for the notification.
func (l *LocalServerLocks) RecordServerLock(_ context.Context, notificationUUID, serverID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[heldLock{notificationUUID, serverID}] = struct{}{}
	return nil
}

// ForgetServerLock drops the record.
func (l *LocalServerLocks) ForgetServerLock(notificationUUID, serverID string, _ func(error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, heldLock{notificationUUID, serverID})
}

// ServerLocks lists the servers recorded for the notification.
func (l *LocalServerLocks) ServerLocks(_ context.Context, notificationUUID string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for k := range l.held {
		if k.notificationUUID == notificationUUID {
			ids = append(ids, k.serverID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
