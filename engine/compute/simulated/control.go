package simulated

import (
	"fmt"
	"net/http"
	"time"
)

// counters count API calls. Calls that Nova refuses count too: they are
// calls the engine made. The calls about a server of the fixture are counted
// on the server (server.calls); servers holds those about unknown ids. Per
// server and per host they are kept flat, by key and operation, and nested
// only when read (Counters).
type counters struct {
	ops     map[string]int
	servers map[keyOp]int
	hosts   map[keyOp]int
}

// keyOp is a server id or host name and an operation.
type keyOp struct{ key, op string }

func newCounters() counters {
	return counters{ops: map[string]int{}, servers: map[keyOp]int{}, hosts: map[keyOp]int{}}
}

// add counts a call; serverID is lower case (as the cloud keys servers).
func (k *counters) add(op, serverID, hostName string) {
	k.ops[op]++
	if serverID != "" {
		k.servers[keyOp{serverID, op}]++
	}
	if hostName != "" {
		k.hosts[keyOp{hostName, op}]++
	}
}

// Counters are the numbers of API calls the cloud received.
type Counters struct {
	// Ops counts calls per operation (list_servers, get_server,
	// list_services, update_service, disable_service, enable_service,
	// force_down, force_up, evacuate, reset_state, stop, start, lock, unlock,
	// list_aggregates, add_host_to_aggregate). A service update counts as
	// update_service and as each kind of change it asks for.
	Ops map[string]int `json:"ops"`
	// Servers counts calls per server id, then operation.
	Servers map[string]map[string]int `json:"servers"`
	// Hosts counts calls about a host (server lists, services, aggregates).
	Hosts map[string]map[string]int `json:"hosts"`
	// Evacuations counts the evacuations Nova accepted, per server id.
	Evacuations map[string]int `json:"evacuations"`
}

// Counters returns a copy of the call counters.
func (c *Cloud) Counters() Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := func(m map[keyOp]int) map[string]map[string]int {
		out := map[string]map[string]int{}
		for k, v := range m {
			if out[k.key] == nil {
				out[k.key] = map[string]int{}
			}
			out[k.key][k.op] = v
		}
		return out
	}
	servers := cp(c.counts.servers)
	evacuations := map[string]int{}
	for _, s := range c.servers {
		if s.evacuations > 0 {
			evacuations[s.id] = s.evacuations
		}
		for i, n := range s.calls {
			if n > 0 {
				if servers[s.id] == nil {
					servers[s.id] = map[string]int{}
				}
				servers[s.id][serverOps[i]] = n
			}
		}
	}
	return Counters{Ops: copyCounts(c.counts.ops), Servers: servers, Hosts: cp(c.counts.hosts),
		Evacuations: evacuations}
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// FailHost kills the host's nova-compute now: Nova keeps reporting the
// service up until service_down_time has passed (at once if it is forced
// down), and work sent to the host waits for its restart.
func (c *Cloud) FailHost(name string) error {
	now := c.lock()
	defer c.mu.Unlock()
	h, ok := c.hostByName[name]
	if !ok {
		return fmt.Errorf("fail host: %w", c.unknownHost(name))
	}
	if !h.failed {
		h.failed, h.failedAt = true, now
	}
	return nil
}

// RestartHost brings the host's nova-compute back: its heartbeat resumes (it
// is reported up unless forced down), evacuations from it become completed,
// and stop/start requests it missed are carried out.
func (c *Cloud) RestartHost(name string) error {
	now := c.lock()
	defer c.mu.Unlock()
	h, ok := c.hostByName[name]
	if !ok {
		return fmt.Errorf("restart host: %w", c.unknownHost(name))
	}
	c.restart(h, now)
	return nil
}

func (c *Cloud) restart(h *host, now time.Time) {
	h.failed, h.failedAt, h.poweredOff = false, time.Time{}, false
	for _, m := range c.migrations {
		if m.Source == h.name && m.Status == "done" {
			m.Status, m.Updated = "completed", now
		}
	}
	for _, s := range c.servers {
		op := s.op
		if op == nil || !op.waiting {
			continue
		}
		worker := s.host
		if op.kind == "evacuate" {
			worker = op.dest
		}
		if worker != h.name {
			continue
		}
		d := map[string]time.Duration{"stop": c.latStop, "start": c.latStart, "evacuate": c.latEvac}[op.kind]
		op.waiting = false
		op.due = now.Add(d)
	}
	c.recomputeDue()
}

// RecoverHost is the operator's step after a host failure: restart its
// nova-compute, force its service up and enable it.
func (c *Cloud) RecoverHost(name string) error {
	now := c.lock()
	defer c.mu.Unlock()
	h, ok := c.hostByName[name]
	if !ok {
		return fmt.Errorf("recover host: %w", c.unknownHost(name))
	}
	c.restart(h, now)
	h.forcedDown, h.disabled, h.reason = false, false, ""
	return nil
}

func (c *Cloud) unknownHost(name string) error {
	names := make([]string, 0, len(c.hosts))
	for _, h := range c.hosts {
		names = append(names, h.name)
	}
	return apiError(http.StatusNotFound, "Compute host %s could not be found.%s", name, suggest(name, names))
}

// HostInfo is a host as the fixture declared it.
type HostInfo struct {
	Name               string   `json:"name"`
	Reserved           bool     `json:"reserved"`
	HypervisorHostname string   `json:"hypervisor_hostname"`
	Aggregates         []string `json:"aggregates,omitempty"`
}

// Hosts lists the hosts in fixture order.
func (c *Cloud) Hosts() []HostInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]HostInfo, 0, len(c.hosts))
	for _, h := range c.hosts {
		out = append(out, HostInfo{Name: h.name, Reserved: h.reserved, HypervisorHostname: h.hyp,
			Aggregates: append([]string(nil), h.aggregates...)})
	}
	return out
}

// ReservedHosts lists the hosts marked "reserved": true, in fixture order:
// the segment's reserved hosts in `kaifuku run`.
func (c *Cloud) ReservedHosts() []string {
	var out []string
	for _, h := range c.Hosts() {
		if h.Reserved {
			out = append(out, h.Name)
		}
	}
	return out
}

// Snapshot is the whole visible state of the cloud at one time.
type Snapshot struct {
	Time       time.Time        `json:"time"`
	Servers    []ServerState    `json:"servers"`
	Services   []ServiceState   `json:"services"`
	Aggregates []AggregateState `json:"aggregates"`
	Migrations []Migration      `json:"migrations"`
	Faults     []Fault          `json:"faults,omitempty"`
}

// ServerState is one server in a Snapshot.
type ServerState struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Status             string            `json:"status"`
	Host               string            `json:"host"`
	HypervisorHostname string            `json:"hypervisor_hostname"`
	VMState            string            `json:"vm_state"`
	TaskState          *string           `json:"task_state"`
	PowerState         int               `json:"power_state"`
	Locked             bool              `json:"locked"`
	Metadata           map[string]string `json:"metadata"`
}

// ServiceState is one nova-compute service in a Snapshot.
type ServiceState struct {
	ID             string  `json:"id"`
	Host           string  `json:"host"`
	Binary         string  `json:"binary"`
	Status         string  `json:"status"`
	State          string  `json:"state"`
	ForcedDown     bool    `json:"forced_down"`
	DisabledReason *string `json:"disabled_reason"`
	// Failed tells whether the host's nova-compute is dead (which Nova only
	// shows as state down after service_down_time).
	Failed bool `json:"failed"`
}

// AggregateState is one aggregate in a Snapshot.
type AggregateState struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
}

// Snapshot returns the current state. Its servers' Metadata is shared with
// the cloud, as the servers its calls return (see compute.Server).
func (c *Cloud) Snapshot() Snapshot {
	now := c.lock()
	defer c.mu.Unlock()
	snap := Snapshot{Time: now, Servers: []ServerState{}, Services: []ServiceState{},
		Aggregates: []AggregateState{}, Migrations: []Migration{}}
	for _, s := range c.servers {
		v := c.view(s)
		st := ServerState{ID: v.ID, Name: v.Name, Status: v.Status, Host: v.Host,
			HypervisorHostname: v.HypervisorHostname, VMState: v.VMState, PowerState: v.PowerState,
			Locked: v.Locked, Metadata: v.Metadata}
		if v.TaskState != "" {
			ts := v.TaskState
			st.TaskState = &ts
		}
		snap.Servers = append(snap.Servers, st)
	}
	for _, h := range c.hosts {
		snap.Services = append(snap.Services, c.serviceState(h, now))
	}
	for _, a := range c.aggregates() {
		snap.Aggregates = append(snap.Aggregates, AggregateState{ID: a.ID, Name: a.Name, Hosts: a.Hosts})
	}
	for _, m := range c.migrations {
		snap.Migrations = append(snap.Migrations, *m)
	}
	for _, f := range c.faults {
		ft := f.Fault
		ft.Count = f.left
		snap.Faults = append(snap.Faults, ft)
	}
	return snap
}

// Export returns the current state as a fixture, to save a cloud and load it
// again later. Work under way cannot be written down: a server in the middle
// of an action keeps its task_state and stays stuck in it when loaded; a
// failed host still reported up starts its service_down_time again.
func (c *Cloud) Export() Fixture {
	now := c.lock()
	defer c.mu.Unlock()
	f := Fixture{
		Latency: Latency{API: int(c.latAPI / time.Millisecond), Stop: int(c.latStop / time.Millisecond),
			Start: int(c.latStart / time.Millisecond), Evacuate: int(c.latEvac / time.Millisecond)},
		ServiceDownTime: int(c.downTime / time.Second),
		RPCTimeout:      int(c.rpcTimeout / time.Second),
	}
	for _, h := range c.hosts {
		fh := Host{Name: h.name, Status: "enabled", DisabledReason: h.reason, ForcedDown: h.forcedDown,
			Reserved: h.reserved, Aggregates: append([]string(nil), h.aggregates...), ServiceID: h.serviceID,
			MaxServers: h.maxServers, BMC: h.bmc, PoweredOff: h.poweredOff}
		if h.disabled {
			fh.Status = "disabled"
		}
		if h.hyp != h.name {
			fh.HypervisorHostname = h.hyp
		}
		switch {
		case h.failed && !c.reportedUp(h, now):
			fh.State = "down"
		case h.failed:
			fh.State, fh.Failed = "up", true
		case h.forcedDown:
			// reported down because forced: no "state" to contradict it
		default:
			fh.State = "up"
		}
		f.Hosts = append(f.Hosts, fh)
	}
	for _, s := range c.servers {
		md := make(map[string]string, len(s.metadata))
		for k, v := range s.metadata {
			md[k] = v
		}
		f.Servers = append(f.Servers, Server{ID: s.id, Name: s.name, Host: s.host, VMState: s.vmState,
			TaskState: s.taskState, PowerState: s.powerState, Locked: s.locked, Metadata: md,
			TenantID: s.tenantID, UserID: s.userID})
	}
	for _, ft := range c.faults {
		x := ft.Fault
		x.Count = ft.left
		f.Faults = append(f.Faults, x)
	}
	return f
}
