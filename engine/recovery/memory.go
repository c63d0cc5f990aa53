package recovery

import (
	"context"
	"slices"
	"sync"
	"time"
)

// HostChange is a change the flows made to a host of a MemorySegment.
type HostChange struct {
	Host  string `json:"host"`
	Field string `json:"field"` // "reserved" or "on_maintenance"
	Value bool   `json:"value"`
}

// SegmentHost is a host of a MemorySegment and its flags.
type SegmentHost struct {
	Name          string `json:"name"`
	Reserved      bool   `json:"reserved"`
	OnMaintenance bool   `json:"on_maintenance"`
}

// MemorySegment is a failover segment held in memory, the SegmentSource of
// kaifuku run and of the test harness, whose hosts come from a cloud
// fixture. It is enabled and holds every host a notification names; its
// reserved hosts are listed in the order the hosts were added (the
// fixture's), where the database lists them in Masakari's order. Safe for
// concurrent use.
type MemorySegment struct {
	mu          sync.Mutex
	method      string
	order       []string // hosts in the order they were added
	reserved    map[string]bool
	maintenance map[string]bool
	changes     []HostChange
	failures    map[string]failure // host-failure notifications seen, by uuid
	// Now is the clock of the storm guard's window (time.Now from
	// NewMemorySegment).
	Now func() time.Time
}

// failure is a host-failure notification a MemorySegment saw.
type failure struct {
	host string
	at   time.Time
}

var _ SegmentSource = (*MemorySegment)(nil)

// NewMemorySegment returns an empty segment with the given recovery method.
func NewMemorySegment(method string) *MemorySegment {
	return &MemorySegment{method: method, reserved: map[string]bool{}, maintenance: map[string]bool{},
		failures: map[string]failure{}, Now: time.Now}
}

// AddHost adds a host (again: sets its reserved flag) without recording a
// change.
func (s *MemorySegment) AddHost(name string, reserved bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.order, name) {
		s.order = append(s.order, name)
	}
	s.reserved[name] = reserved
}

// SetRecoveryMethod sets the segment's recovery method.
func (s *MemorySegment) SetRecoveryMethod(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.method = method
}

// SourceHost returns the notification's host; one the segment does not list
// is an unreserved host of it. A host failure is remembered, when it was
// first seen, for HostFailures.
func (s *MemorySegment) SourceHost(_ context.Context, n Notification) (Host, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.failures[n.UUID]; !seen && IsHostFailure(n.Type, n.Payload) {
		s.failures[n.UUID] = failure{host: n.Hostname, at: s.Now()}
	}
	return Host{Name: n.Hostname, Reserved: s.reserved[n.Hostname], OnMaintenance: s.maintenance[n.Hostname],
		SegmentEnabled: true, RecoveryMethod: s.method}, nil
}

// HostFailures counts the hosts with a host failure seen within window
// before now, and the hosts of the segment: those added and those a
// notification named.
func (s *MemorySegment) HostFailures(_ context.Context, _ Notification, window time.Duration) (failed, hosts int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.Now().Add(-window)
	all := map[string]bool{}
	for _, h := range s.order {
		all[h] = false
	}
	for _, f := range s.failures {
		if !f.at.Before(since) {
			all[f.host] = true
		} else if _, ok := all[f.host]; !ok {
			all[f.host] = false
		}
	}
	for _, down := range all {
		if down {
			failed++
		}
	}
	return failed, len(all), nil
}

// SetReserved sets a host's reserved flag.
func (s *MemorySegment) SetReserved(_ context.Context, host string, reserved bool) error {
	s.set(s.reserved, HostChange{Host: host, Field: "reserved", Value: reserved})
	return nil
}

// SetMaintenance sets a host's on_maintenance flag.
func (s *MemorySegment) SetMaintenance(_ context.Context, host string, on bool) error {
	s.set(s.maintenance, HostChange{Host: host, Field: "on_maintenance", Value: on})
	return nil
}

// set applies a change to one of the flag maps and records it.
func (s *MemorySegment) set(flags map[string]bool, c HostChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	flags[c.Host] = c.Value
	s.changes = append(s.changes, c)
}

// ReservedHosts lists the reserved hosts not on maintenance, in the order
// they were added, leaving out the failed host itself.
func (s *MemorySegment) ReservedHosts(_ context.Context, failed string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, h := range s.order {
		if h != failed && s.reserved[h] && !s.maintenance[h] {
			out = append(out, h)
		}
	}
	return out, nil
}

// Hosts returns the segment's hosts and their flags: the added hosts in
// order, then any other host a flow changed, in name order.
func (s *MemorySegment) Hosts() []SegmentHost {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Clone(s.order)
	var extra []string
	for _, m := range []map[string]bool{s.reserved, s.maintenance} {
		for h := range m {
			if !slices.Contains(names, h) && !slices.Contains(extra, h) {
				extra = append(extra, h)
			}
		}
	}
	slices.Sort(extra)
	names = append(names, extra...)
	hosts := make([]SegmentHost, len(names))
	for i, n := range names {
		hosts[i] = SegmentHost{Name: n, Reserved: s.reserved[n], OnMaintenance: s.maintenance[n]}
	}
	return hosts
}

// Changes returns the changes the flows made, in order.
func (s *MemorySegment) Changes() []HostChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.changes)
}

// OnMaintenance lists the hosts on maintenance, in the order of Hosts.
func (s *MemorySegment) OnMaintenance() []string {
	var out []string
	for _, h := range s.Hosts() {
		if h.OnMaintenance {
			out = append(out, h.Name)
		}
	}
	return out
}
