package engine

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// VMove statuses and types, as Masakari names them.
const (
	VMovePending   = "pending"
	VMoveOngoing   = "ongoing"
	VMoveSucceeded = "succeeded"
	VMoveFailed    = "failed"
	VMoveIgnored   = "ignored"

	VMoveEvacuation = "evacuation"
)

// VMove is the record of one server moved off a failed host by a host
// recovery: one per server and notification.
type VMove struct {
	NotificationUUID string
	InstanceUUID     string
	InstanceName     string
	SourceHost       string
	DestHost         string
	StartTime        *time.Time
	EndTime          *time.Time
	Type             string
	Status           string
	Message          string
}

// VMoveUpdate changes the record of one server's move; empty and nil fields
// are left as they are. A recorder keeps the times it is given, not copies:
// the caller does not change them afterwards.
type VMoveUpdate struct {
	Status       string
	InstanceName string
	DestHost     string
	StartTime    *time.Time
	EndTime      *time.Time
	Message      string
}

// VMoveRecorder keeps the VMove records of host recoveries, as the
// evacuation task writes them while it goes.
type VMoveRecorder interface {
	// AddVMoves records each server as a pending move of the notification
	// from sourceHost; a server already recorded for the notification (a
	// retried or resumed recovery) keeps its record. Like UpdateVMove it may
	// return before the records are durable: the database writes them with
	// the run's next write that is waited for (the lock of the first server
	// the recovery touches), before that write. failed is told why they
	// could not be recorded, maybe later and from another goroutine.
	AddVMoves(notificationUUID, sourceHost, moveType string, instances []string, failed func(error))
	// UpdateVMove changes the record of one server of the notification. It
	// may return before the change is durable: the database writes it with
	// the run's next write that is waited for (a task's end), before that
	// write. failed is told why the change could not be recorded, maybe
	// later and from another goroutine.
	UpdateVMove(notificationUUID, instanceUUID string, u VMoveUpdate, failed func(error))
}

// MemoryVMoves is a VMoveRecorder in memory, for runs without a database
// (kaifuku run, the test harness).
type MemoryVMoves struct {
	mu    sync.Mutex
	moves []VMove
	index map[vmoveKey]int // position in moves
}

// vmoveKey is a notification's server.
type vmoveKey struct{ notification, instance string }

// AddVMoves implements VMoveRecorder.
func (m *MemoryVMoves) AddVMoves(notificationUUID, sourceHost, moveType string, instances []string, _ func(error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.index == nil {
		m.index = make(map[vmoveKey]int, len(instances))
	}
	m.moves = slices.Grow(m.moves, len(instances))
	for _, id := range instances {
		if m.find(notificationUUID, id) >= 0 {
			continue
		}
		m.add(VMove{NotificationUUID: notificationUUID, InstanceUUID: id, SourceHost: sourceHost, Type: moveType, Status: VMovePending})
	}
}

// UpdateVMove implements VMoveRecorder; an unknown server is recorded.
func (m *MemoryVMoves) UpdateVMove(notificationUUID, instanceUUID string, u VMoveUpdate, _ func(error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(notificationUUID, instanceUUID)
	if i < 0 {
		i = m.add(VMove{NotificationUUID: notificationUUID, InstanceUUID: instanceUUID, Type: VMoveEvacuation})
	}
	applyVMoveUpdate(&m.moves[i], u)
}

// VMoves returns the records of a notification, sorted by server.
func (m *MemoryVMoves) VMoves(notificationUUID string) []VMove {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []VMove
	for _, v := range m.moves {
		if v.NotificationUUID == notificationUUID {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceUUID < out[j].InstanceUUID })
	return out
}

func (m *MemoryVMoves) find(notificationUUID, instanceUUID string) int {
	if i, ok := m.index[vmoveKey{notificationUUID, instanceUUID}]; ok {
		return i
	}
	return -1
}

// add appends a record and returns its position.
func (m *MemoryVMoves) add(v VMove) int {
	if m.index == nil {
		m.index = map[vmoveKey]int{}
	}
	m.moves = append(m.moves, v)
	i := len(m.moves) - 1
	m.index[vmoveKey{v.NotificationUUID, v.InstanceUUID}] = i
	return i
}

// Then returns the one update that does what u and then next do.
func (u VMoveUpdate) Then(next VMoveUpdate) VMoveUpdate {
	v := VMove{Status: u.Status, InstanceName: u.InstanceName, DestHost: u.DestHost, StartTime: u.StartTime, EndTime: u.EndTime, Message: u.Message}
	applyVMoveUpdate(&v, next)
	return VMoveUpdate{Status: v.Status, InstanceName: v.InstanceName, DestHost: v.DestHost, StartTime: v.StartTime, EndTime: v.EndTime, Message: v.Message}
}

func applyVMoveUpdate(v *VMove, u VMoveUpdate) {
	if u.Status != "" {
		v.Status = u.Status
	}
	if u.InstanceName != "" {
		v.InstanceName = u.InstanceName
	}
	if u.DestHost != "" {
		v.DestHost = u.DestHost
	}
	if u.StartTime != nil {
		v.StartTime = u.StartTime
	}
	if u.EndTime != nil {
		v.EndTime = u.EndTime
	}
	if u.Message != "" {
		v.Message = u.Message
	}
}
