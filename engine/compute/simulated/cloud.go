package simulated

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Cloud is a simulated Nova. It is safe for concurrent use.
type Cloud struct {
	clk        clock.Clock
	latAPI     time.Duration
	latStop    time.Duration
	latStart   time.Duration
	latEvac    time.Duration
	downTime   time.Duration
	rpcTimeout time.Duration

	mu         sync.Mutex
	hosts      []*host // fixture order
	hostByName map[string]*host
	hostBySvc  map[string]*host // lower-case service id
	servers    []*server        // fixture order
	serverByID map[string]*server
	aggs       []*aggregate
	faults     []*activeFault
	migrations []*Migration
	counts     counters
	// pending holds every server with a pending operation (and, until the
	// next recomputeDue, some whose operation ended), so that settling
	// looks at those alone.
	pending []*server
	due     []*server // settle's, kept between calls
	nextDue time.Time // earliest completion of a pending operation
	hasDue  bool
	// changes logs every change of a server in time order, so that a list
	// of the servers changed since a time reads the newest changes alone.
	changes []change
	listGen int       // marks the servers a walk of changes has seen (server.listed)
	found   []*server // a list's servers, kept between lists
}

// change is an entry of Cloud.changes: s changed at at (or just before it,
// when the change came in out of order).
type change struct {
	s  *server
	at time.Time
}

var _ compute.Cloud = (*Cloud)(nil)

type host struct {
	name       string
	hyp        string
	serviceID  string
	disabled   bool
	reason     string
	forcedDown bool
	reserved   bool
	failed     bool      // nova-compute is dead
	failedAt   time.Time // zero: long ago
	maxServers int
	aggregates []string
	bmc        string // the BMC's behaviour (Host.BMC)
	poweredOff bool
	// load is the scheduler's weight of the host: its servers and the
	// evacuations under way to it (see setOp and complete).
	load int
}

type server struct {
	id, name    string
	host        string
	vmState     string
	taskState   string
	powerState  int
	locked      bool
	metadata    map[string]string
	tenantID    string
	userID      string
	op          *pending
	updated     time.Time           // last change through the API or its completion (Nova's updated_at)
	index       int                 // position in the fixture
	inPending   bool                // in Cloud.pending
	calls       [len(serverOps)]int // API calls about the server, by operation (serverOps)
	evacuations int                 // evacuations Nova accepted
	listed      int                 // the walk of Cloud.changes that saw it last (Cloud.listGen)
}

// pending is work a compute host does after the API accepted it.
type pending struct {
	kind    string // evacuate | stop | start
	due     time.Time
	waiting bool         // the compute that must do it is dead: waits for its restart
	never   bool         // injected: never completes
	fail    bool         // injected: the server goes to error on completion
	fault   *activeFault // the fault behind never or fail, used up on acceptance
	dest    string
	mig     *Migration
}

type aggregate struct {
	id    int
	name  string
	hosts []string
}

// Migration is an evacuation record, as Nova's os-migrations shows it.
type Migration struct {
	ID       int       `json:"id"`
	ServerID string    `json:"instance_uuid"`
	Source   string    `json:"source_compute"`
	Dest     string    `json:"dest_compute,omitempty"`
	Status   string    `json:"status"` // accepted, done, completed (source restarted), error, failed
	Created  time.Time `json:"created_at"`
	Updated  time.Time `json:"updated_at"`
}

// serviceNamespace derives stable service UUIDs from host names.
var serviceNamespace = uuid.MustParse("6b1d0c52-3c4e-4f57-9a0e-5f2a8d1c7e44")

// New builds a simulated cloud from a fixture (validated again, so a Fixture
// built in Go gets the same checks as a file).
func New(f Fixture, clk clock.Clock) (*Cloud, error) {
	if ps := f.validate(); len(ps) > 0 {
		return nil, ps
	}
	c := &Cloud{
		clk:        clk,
		latAPI:     ms(f.Latency.API),
		latStop:    ms(f.Latency.Stop),
		latStart:   ms(f.Latency.Start),
		latEvac:    ms(f.Latency.Evacuate),
		downTime:   seconds(f.ServiceDownTime, defaultServiceDownTime),
		rpcTimeout: seconds(f.RPCTimeout, defaultRPCTimeout),
		hostByName: map[string]*host{},
		hostBySvc:  map[string]*host{},
		serverByID: map[string]*server{},
		counts:     newCounters(),
	}
	now := clk.Now()
	for _, fh := range f.Hosts {
		h := &host{
			name:       fh.Name,
			hyp:        fh.HypervisorHostname,
			serviceID:  strings.ToLower(fh.ServiceID),
			disabled:   fh.Status == "disabled",
			reason:     fh.DisabledReason,
			forcedDown: fh.ForcedDown,
			reserved:   fh.Reserved,
			maxServers: fh.MaxServers,
			aggregates: append([]string(nil), fh.Aggregates...),
			bmc:        fh.BMC,
			poweredOff: fh.PoweredOff,
		}
		if h.hyp == "" {
			h.hyp = h.name
		}
		if h.serviceID == "" {
			h.serviceID = uuid.NewSHA1(serviceNamespace, []byte(h.name)).String()
		}
		switch {
		case fh.State == "down", fh.PoweredOff:
			h.failed = true // long ago: reported down at once
		case fh.Failed:
			h.failed, h.failedAt = true, now
		}
		c.hosts = append(c.hosts, h)
		c.hostByName[h.name] = h
		c.hostBySvc[h.serviceID] = h
	}
	for i, name := range f.aggregateNames() {
		a := &aggregate{id: i + 1, name: name}
		for _, h := range c.hosts {
			if contains(h.aggregates, name) {
				a.hosts = append(a.hosts, h.name)
			}
		}
		c.aggs = append(c.aggs, a)
	}
	for _, fs := range f.Servers {
		s := &server{
			id:         strings.ToLower(fs.ID),
			name:       fs.Name,
			host:       fs.Host,
			vmState:    fs.VMState,
			taskState:  fs.TaskState,
			powerState: fs.PowerState,
			locked:     fs.Locked,
			metadata:   map[string]string{},
			tenantID:   fs.TenantID,
			userID:     fs.UserID,
			index:      len(c.servers),
		}
		if s.vmState == "" {
			s.vmState = "active"
		}
		if s.powerState == 0 {
			s.powerState = defaultPowerState(s.vmState)
		}
		for k, v := range fs.Metadata {
			s.metadata[k] = v
		}
		c.servers = append(c.servers, s)
		c.serverByID[s.id] = s
		if h := c.hostByName[s.host]; h != nil {
			h.load++
		}
	}
	for _, ft := range f.Faults {
		c.faults = append(c.faults, c.newFault(ft))
	}
	return c, nil
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func seconds(n, def int) time.Duration {
	if n <= 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}

// findServer finds a server by id or name (for faults).
func (c *Cloud) findServer(ref string) *server {
	if ref == "" {
		return nil
	}
	if s, ok := c.serverByID[strings.ToLower(ref)]; ok {
		return s
	}
	for _, s := range c.servers {
		if s.name == ref {
			return s
		}
	}
	return nil
}

// begin is the start of every API call: the API latency, on the clock and
// without the lock.
func (c *Cloud) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return requestError(err)
	}
	if c.latAPI > 0 {
		if err := c.clk.Sleep(ctx, c.latAPI); err != nil {
			return requestError(err)
		}
	}
	return nil
}

func requestError(err error) error {
	return fmt.Errorf("nova request: %w (%w)", err, compute.ErrUnavailable)
}

// lock takes the mutex and brings the state up to now.
func (c *Cloud) lock() time.Time {
	c.mu.Lock()
	now := c.clk.Now()
	c.settle(now)
	return now
}

// reportedUp is Nova's servicegroup view: a forced down service is down; a
// dead one is down once its last heartbeat is older than service_down_time.
func (c *Cloud) reportedUp(h *host, now time.Time) bool {
	if h.forcedDown {
		return false
	}
	if !h.failed {
		return true
	}
	return !h.failedAt.IsZero() && now.Sub(h.failedAt) <= c.downTime
}

// settle completes every pending operation that is due, in the order they
// are due (servers in fixture order when due at once).
func (c *Cloud) settle(now time.Time) {
	if !c.hasDue || now.Before(c.nextDue) {
		return
	}
	due := c.due[:0]
	for _, s := range c.pending {
		if op := s.op; op != nil && !op.waiting && !op.never && !op.due.After(now) {
			due = append(due, s)
		}
	}
	slices.SortFunc(due, func(a, b *server) int {
		if c := a.op.due.Compare(b.op.due); c != 0 {
			return c
		}
		return a.index - b.index
	})
	for _, s := range due {
		c.complete(s)
	}
	c.due = due[:0]
	c.recomputeDue()
}

// recomputeDue finds the earliest completion again, dropping the servers
// whose operation ended from pending.
func (c *Cloud) recomputeDue() {
	c.hasDue = false
	kept := c.pending[:0]
	for _, s := range c.pending {
		op := s.op
		if op == nil {
			s.inPending = false
			continue
		}
		kept = append(kept, s)
		if !op.waiting && !op.never {
			if !c.hasDue || op.due.Before(c.nextDue) {
				c.nextDue, c.hasDue = op.due, true
			}
		}
	}
	clear(c.pending[len(kept):])
	c.pending = kept
}

// complete applies the end of s's pending operation, at its due time.
func (c *Cloud) complete(s *server) {
	op := s.op
	c.setOp(s, nil)
	s.taskState = ""
	c.touch(s, op.due)
	if op.fail {
		s.vmState = "error"
		if op.mig != nil {
			op.mig.Status, op.mig.Updated = "failed", op.due
		}
		return
	}
	switch op.kind {
	case "stop":
		s.vmState, s.powerState = "stopped", powerShutdown
	case "start":
		s.vmState, s.powerState = "active", powerRunning
	case "evacuate":
		// A rebuild on the destination keeps a stopped server stopped and
		// makes an active or error one active.
		if h := c.hostOf(s); h != nil {
			h.load--
		}
		s.host = op.dest
		if h := c.hostOf(s); h != nil {
			h.load++
		}
		if s.vmState == "stopped" {
			s.powerState = powerShutdown
		} else {
			s.vmState, s.powerState = "active", powerRunning
		}
		op.mig.Status, op.mig.Updated = "done", op.due
	}
}

// setOp makes op (nil: none) the pending operation of s, keeping the load of
// the destinations of evacuations under way.
func (c *Cloud) setOp(s *server, op *pending) {
	if old := s.op; old != nil && old.kind == "evacuate" {
		if h := c.hostByName[old.dest]; h != nil {
			h.load--
		}
	}
	if op != nil && op.kind == "evacuate" {
		if h := c.hostByName[op.dest]; h != nil {
			h.load++
		}
	}
	s.op = op
}

// dispatch schedules a pending operation to complete after d, unless the
// compute that must do it is dead.
func (c *Cloud) dispatch(s *server, op *pending, worker string, now time.Time, d time.Duration) {
	c.setOp(s, op)
	if !s.inPending {
		s.inPending = true
		c.pending = append(c.pending, s)
	}
	if op.never {
		return
	}
	if h := c.hostByName[worker]; h != nil && h.failed {
		op.waiting = true
		return
	}
	op.due = now.Add(d)
	if !c.hasDue || op.due.Before(c.nextDue) {
		c.nextDue, c.hasDue = op.due, true
	}
}

func (c *Cloud) hostOf(s *server) *host { return c.hostByName[s.host] }

func (c *Cloud) view(s *server) compute.Server {
	hyp := s.host
	if h := c.hostOf(s); h != nil {
		hyp = h.hyp
	}
	return compute.Server{
		ID:                 s.id,
		Name:               s.name,
		Status:             serverStatus(s.vmState, s.taskState),
		Host:               s.host,
		HypervisorHostname: hyp,
		VMState:            s.vmState,
		TaskState:          s.taskState,
		PowerState:         s.powerState,
		Locked:             s.locked,
		Metadata:           s.metadata, // set at New, never changed: shared (see compute.Server)
		TenantID:           s.tenantID,
		UserID:             s.userID,
	}
}

func (c *Cloud) service(h *host, now time.Time) compute.Service {
	svc := compute.Service{
		ID:             h.serviceID,
		Binary:         "nova-compute",
		Host:           h.name,
		Status:         "enabled",
		State:          "down",
		ForcedDown:     h.forcedDown,
		DisabledReason: h.reason,
	}
	if h.disabled {
		svc.Status = "disabled"
	}
	if c.reportedUp(h, now) {
		svc.State = "up"
	}
	return svc
}

// serverFor looks a server up for an API call, counting the call.
func (c *Cloud) serverFor(op, id string) (*server, error) {
	key := strings.ToLower(id)
	s, ok := c.serverByID[key]
	if !ok {
		c.counts.add(op, key, "")
		return nil, errInstanceNotFound(id)
	}
	c.counts.add(op, "", "")
	s.calls[slices.Index(serverOps[:], op)]++
	return s, nil
}

// ListServers lists the servers on host (all tenants); an empty host lists
// every server. Servers come in fixture order.
func (c *Cloud) ListServers(ctx context.Context, hostName string) ([]compute.Server, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	c.lock()
	defer c.mu.Unlock()
	c.counts.add("list_servers", "", hostName)
	if err := c.injected("list_servers", nil, hostName); err != nil {
		return nil, err
	}
	n := 0
	for _, s := range c.servers {
		if hostName == "" || s.host == hostName {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]compute.Server, 0, n)
	for _, s := range c.servers {
		if hostName == "" || s.host == hostName {
			out = append(out, c.view(s))
		}
	}
	return out, nil
}

// ListServersChangedSince lists the servers of every host and tenant
// changed at or after since (Nova's changes-since filter), in fixture order.
func (c *Cloud) ListServersChangedSince(ctx context.Context, since time.Time) ([]compute.Server, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	c.lock()
	defer c.mu.Unlock()
	c.counts.add("list_servers_changed", "", "")
	if err := c.injected("list_servers_changed", nil, ""); err != nil {
		return nil, err
	}
	// The changes log is in time order: the servers changed since are
	// among its newest entries.
	c.listGen++
	found := c.found[:0]
	defer func() { clear(found); c.found = found[:0] }()
	for i := len(c.changes) - 1; i >= 0 && !c.changes[i].at.Before(since); i-- {
		s := c.changes[i].s
		if s.listed == c.listGen || s.updated.Before(since) {
			continue
		}
		s.listed = c.listGen
		found = append(found, s)
	}
	if len(found) == 0 {
		return nil, nil
	}
	slices.SortFunc(found, func(a, b *server) int { return a.index - b.index })
	out := make([]compute.Server, len(found))
	for i, s := range found {
		out[i] = c.view(s)
	}
	return out, nil
}

// touch records that s changed at t (Nova's updated_at) in the changes log.
// A change is logged no earlier than the one before it, so that the log
// stays in time order; the log keeps each server's newest change once it
// has grown to twice the servers.
func (c *Cloud) touch(s *server, t time.Time) {
	s.updated = t
	at := t
	if n := len(c.changes); n > 0 && at.Before(c.changes[n-1].at) {
		at = c.changes[n-1].at
	}
	c.changes = append(c.changes, change{s: s, at: at})
	if len(c.changes) < 2*len(c.servers)+64 {
		return
	}
	// Newest first, each server's newest entry moved to the back end.
	c.listGen++
	w := len(c.changes)
	for i := len(c.changes) - 1; i >= 0; i-- {
		if e := c.changes[i]; e.s.listed != c.listGen {
			e.s.listed = c.listGen
			w--
			c.changes[w] = e
		}
	}
	n := copy(c.changes, c.changes[w:])
	clear(c.changes[n:])
	c.changes = c.changes[:n]
}

// GetServer returns one server; an unknown id is 404.
func (c *Cloud) GetServer(ctx context.Context, id string) (compute.Server, error) {
	if err := c.begin(ctx); err != nil {
		return compute.Server{}, err
	}
	c.lock()
	defer c.mu.Unlock()
	s, err := c.serverFor("get_server", id)
	if err != nil {
		return compute.Server{}, err
	}
	if err := c.injected("get_server", s, s.host); err != nil {
		return compute.Server{}, err
	}
	return c.view(s), nil
}

// ListServices lists the nova-compute services; empty host or binary match
// any.
func (c *Cloud) ListServices(ctx context.Context, hostName, binary string) ([]compute.Service, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	now := c.lock()
	defer c.mu.Unlock()
	c.counts.add("list_services", "", hostName)
	if err := c.injected("list_services", nil, hostName); err != nil {
		return nil, err
	}
	var out []compute.Service
	if binary != "" && binary != "nova-compute" {
		return out, nil
	}
	for _, h := range c.hosts {
		if hostName == "" || h.name == hostName {
			out = append(out, c.service(h, now))
		}
	}
	return out, nil
}

// UpdateService enables, disables, forces down or up a service (PUT
// /os-services/{id} at microversion 2.53). Changing the status of a service
// whose host is dead but still reported up answers only after the RPC
// timeout, as nova-api waits for the dead compute; the change itself is saved
// at once.
func (c *Cloud) UpdateService(ctx context.Context, id string, u compute.ServiceUpdate) (compute.Service, error) {
	if err := c.begin(ctx); err != nil {
		return compute.Service{}, err
	}
	now := c.lock()
	h, err := c.updateService(id, u, now)
	if err != nil {
		c.mu.Unlock()
		return compute.Service{}, err
	}
	trap := u.Status != nil && h.failed && c.reportedUp(h, now)
	c.mu.Unlock()
	if trap {
		if err := c.clk.Sleep(ctx, c.rpcTimeout); err != nil {
			return compute.Service{}, requestError(err)
		}
	}
	now = c.lock()
	defer c.mu.Unlock()
	return c.service(h, now), nil
}

func (c *Cloud) updateService(id string, u compute.ServiceUpdate, now time.Time) (*host, error) {
	h := c.hostBySvc[strings.ToLower(id)]
	hostName := ""
	if h != nil {
		hostName = h.name
	}
	ops := []string{"update_service"}
	if u.Status != nil {
		ops = append(ops, map[string]string{"disabled": "disable_service", "enabled": "enable_service"}[*u.Status])
	}
	if u.ForcedDown != nil {
		ops = append(ops, map[bool]string{true: "force_down", false: "force_up"}[*u.ForcedDown])
	}
	for _, op := range ops {
		if op != "" {
			c.counts.add(op, "", hostName)
		}
	}
	if !isUUID(id) {
		return nil, apiError(http.StatusBadRequest, "Invalid uuid %s", id)
	}
	if h == nil {
		return nil, apiError(http.StatusNotFound, "Service %s could not be found.", id)
	}
	for _, op := range ops {
		if op == "" {
			continue
		}
		if err := c.injected(op, nil, h.name); err != nil {
			return nil, err
		}
	}
	if u.Status == nil && u.ForcedDown == nil {
		return nil, apiError(http.StatusBadRequest,
			"No updates were requested. Fields 'status' or 'forced_down' should be specified.")
	}
	if u.Status != nil && *u.Status != "enabled" && *u.Status != "disabled" {
		return nil, apiError(http.StatusBadRequest,
			"Invalid input for field/attribute status. Value: %s. '%s' is not one of ['enabled', 'disabled']",
			*u.Status, *u.Status)
	}
	// Nova reads disabled_reason only with status disabled, and refuses it
	// with status enabled.
	if u.DisabledReason != "" && u.Status != nil && *u.Status == "enabled" {
		return nil, apiError(http.StatusBadRequest, "Specifying 'disabled_reason' with status 'enabled' is invalid.")
	}
	if u.ForcedDown != nil && !*u.ForcedDown {
		for _, m := range c.migrations {
			if m.Source == h.name && m.Status == "done" {
				return nil, apiError(http.StatusBadRequest, "Unable to force up host %s as `done` evacuation "+
					"migration records remain associated with the host. Ensure the compute service has been "+
					"restarted, allowing these records to move to `completed` before retrying this request.", h.name)
			}
		}
	}
	if u.Status != nil {
		h.disabled = *u.Status == "disabled"
		h.reason = ""
		if h.disabled {
			h.reason = u.DisabledReason
		}
	}
	if u.ForcedDown != nil {
		h.forcedDown = *u.ForcedDown
	}
	return h, nil
}

// Evacuate rebuilds a server of a down host on another host: the target, or
// the scheduler's choice when target is empty.
func (c *Cloud) Evacuate(ctx context.Context, id, target string) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	now := c.lock()
	defer c.mu.Unlock()
	s, err := c.serverFor("evacuate", id)
	if err != nil {
		return err
	}
	op := &pending{kind: "evacuate"}
	if err := c.injectedAsync("evacuate", s, op); err != nil {
		return err
	}
	if target != "" {
		if _, ok := c.hostByName[target]; !ok {
			return apiError(http.StatusNotFound, "Compute host %s not found.", target)
		}
		if target == s.host {
			return apiError(http.StatusBadRequest, "The target host can't be the same one.")
		}
	}
	// Nova checks the vm_state only: since the fix of its bug 1978983 a
	// server stuck in a task (powering-off on a dead host, or an evacuation
	// already under way) can be evacuated.
	if !contains([]string{"active", "stopped", "error"}, s.vmState) {
		return errInvalidState("evacuate", id, "vm_state", s.vmState)
	}
	src := c.hostOf(s)
	if c.reportedUp(src, now) {
		return apiError(http.StatusBadRequest, "Compute service of %s is still in use.", src.name)
	}
	if old := s.op; old != nil {
		// The work under way is abandoned: its compute fails its next save
		// once the task state has changed under it.
		if old.mig != nil {
			old.mig.Status, old.mig.Updated = "failed", now
		}
		c.setOp(s, nil)
		c.recomputeDue()
	}
	c.accept(op)
	s.evacuations++
	mig := &Migration{ID: len(c.migrations) + 1, ServerID: s.id, Source: s.host, Status: "accepted",
		Created: now, Updated: now}
	c.migrations = append(c.migrations, mig)
	s.taskState = "rebuilding"
	c.touch(s, now)
	dest := c.schedule(s, target, now)
	if dest == "" {
		// The conductor's NoValidHost: the API has already answered.
		s.vmState, s.taskState = "error", ""
		mig.Status = "error"
		return nil
	}
	mig.Dest = dest
	op.dest, op.mig = dest, mig
	c.dispatch(s, op, dest, now, c.latEvac)
	return nil
}

// schedule picks the destination of an evacuation: an enabled, up host other
// than the source (the requested target only, when there is one), the least
// loaded first, then by name. "" is Nova's NoValidHost.
func (c *Cloud) schedule(s *server, target string, now time.Time) string {
	var best *host
	for _, h := range c.hosts {
		if h.name == s.host || (target != "" && h.name != target) {
			continue
		}
		if h.disabled || !c.reportedUp(h, now) || (h.maxServers > 0 && h.load >= h.maxServers) {
			continue
		}
		if best == nil || h.load < best.load || (h.load == best.load && h.name < best.name) {
			best = h
		}
	}
	if best == nil {
		return ""
	}
	return best.name
}

// ResetState sets vm_state to active or error and clears task_state
// (os-resetState). Work in progress on the server is abandoned, as a compute
// fails its final save once the task state has been reset.
func (c *Cloud) ResetState(ctx context.Context, id, state string) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	now := c.lock()
	defer c.mu.Unlock()
	s, err := c.serverFor("reset_state", id)
	if err != nil {
		return err
	}
	if err := c.injected("reset_state", s, s.host); err != nil {
		return err
	}
	if state != "active" && state != "error" {
		return apiError(http.StatusBadRequest,
			"Invalid input for field/attribute state. Value: %s. '%s' is not one of ['active', 'error']", state, state)
	}
	if s.op != nil {
		if s.op.mig != nil {
			s.op.mig.Status = "failed"
		}
		c.setOp(s, nil)
		c.recomputeDue()
	}
	s.vmState, s.taskState = state, ""
	c.touch(s, now)
	return nil
}

// Stop powers a server off (os-stop), from vm_state active or error:
// task_state powering-off, then vm_state stopped after the stop latency.
func (c *Cloud) Stop(ctx context.Context, id string) error {
	return c.power(ctx, id, "stop", []string{"active", "error"}, "powering-off", c.latStop)
}

// Start powers a stopped server on (os-start).
func (c *Cloud) Start(ctx context.Context, id string) error {
	return c.power(ctx, id, "start", []string{"stopped"}, "powering-on", c.latStart)
}

func (c *Cloud) power(ctx context.Context, id, action string, from []string, task string, d time.Duration) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	now := c.lock()
	defer c.mu.Unlock()
	s, err := c.serverFor(action, id)
	if err != nil {
		return err
	}
	op := &pending{kind: action}
	if err := c.injectedAsync(action, s, op); err != nil {
		return err
	}
	if !contains(from, s.vmState) {
		return errInvalidState(action, id, "vm_state", s.vmState)
	}
	if s.taskState != "" {
		return errInvalidState(action, id, "task_state", s.taskState)
	}
	c.accept(op)
	s.taskState = task
	c.touch(s, now)
	c.dispatch(s, op, s.host, now, d)
	return nil
}

// Lock locks a server. The caller is an administrator (as Masakari's
// privileged user), whom a lock does not stop.
func (c *Cloud) Lock(ctx context.Context, id string) error { return c.setLock(ctx, id, "lock", true) }

// Unlock unlocks a server.
func (c *Cloud) Unlock(ctx context.Context, id string) error {
	return c.setLock(ctx, id, "unlock", false)
}

func (c *Cloud) setLock(ctx context.Context, id, op string, locked bool) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	now := c.lock()
	defer c.mu.Unlock()
	s, err := c.serverFor(op, id)
	if err != nil {
		return err
	}
	if err := c.injected(op, s, s.host); err != nil {
		return err
	}
	s.locked = locked
	c.touch(s, now)
	return nil
}

// ListAggregates lists the host aggregates.
func (c *Cloud) ListAggregates(ctx context.Context) ([]compute.Aggregate, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	c.lock()
	defer c.mu.Unlock()
	c.counts.add("list_aggregates", "", "")
	if err := c.injected("list_aggregates", nil, ""); err != nil {
		return nil, err
	}
	return c.aggregates(), nil
}

func (c *Cloud) aggregates() []compute.Aggregate {
	out := make([]compute.Aggregate, 0, len(c.aggs))
	for _, a := range c.aggs {
		out = append(out, compute.Aggregate{ID: a.id, Name: a.name, Hosts: append([]string{}, a.hosts...)})
	}
	return out
}

// AddHostToAggregate adds a host to an aggregate; a member already is 409.
func (c *Cloud) AddHostToAggregate(ctx context.Context, aggregateID int, hostName string) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	c.lock()
	defer c.mu.Unlock()
	c.counts.add("add_host_to_aggregate", "", hostName)
	if err := c.injected("add_host_to_aggregate", nil, hostName); err != nil {
		return err
	}
	var a *aggregate
	for _, x := range c.aggs {
		if x.id == aggregateID {
			a = x
		}
	}
	if a == nil {
		return apiError(http.StatusNotFound, "Aggregate %d could not be found.", aggregateID)
	}
	h, ok := c.hostByName[hostName]
	if !ok {
		return apiError(http.StatusNotFound, "Compute host %s could not be found.", hostName)
	}
	if contains(a.hosts, hostName) {
		return apiError(http.StatusConflict, "Aggregate %d already has host %s.", aggregateID, hostName)
	}
	a.hosts = append(a.hosts, hostName)
	h.aggregates = append(h.aggregates, a.name)
	return nil
}
