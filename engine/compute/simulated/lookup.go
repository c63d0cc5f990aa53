package simulated

import (
	"strings"
	"time"
)

// Lookups for a view of the cloud, such as simcloud's rendering of a
// server: unlike Snapshot they copy only what they return, and unlike the
// compute API calls they count no call, inject no fault and wait no API
// latency.

// ServerPosition returns the position (from 1) in the fixture of the server
// with id, matched whatever its case as the API matches ids, or 0 when no
// server has it.
func (c *Cloud) ServerPosition(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.serverByID[strings.ToLower(id)]; ok {
		return s.index + 1
	}
	return 0
}

// Services returns the nova-compute services as Snapshot shows them now, in
// fixture order.
func (c *Cloud) Services() []ServiceState {
	now := c.lock()
	defer c.mu.Unlock()
	out := make([]ServiceState, 0, len(c.hosts))
	for _, h := range c.hosts {
		out = append(out, c.serviceState(h, now))
	}
	return out
}

// serviceState is host h's nova-compute service as Snapshot shows it at now.
func (c *Cloud) serviceState(h *host, now time.Time) ServiceState {
	v := c.service(h, now)
	st := ServiceState{ID: v.ID, Host: v.Host, Binary: v.Binary, Status: v.Status, State: v.State,
		ForcedDown: v.ForcedDown, Failed: h.failed}
	if v.DisabledReason != "" {
		r := v.DisabledReason
		st.DisabledReason = &r
	}
	return st
}
