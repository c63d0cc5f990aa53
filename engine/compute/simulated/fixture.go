package simulated

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/jsontree"
)

// Fixture describes a simulated cloud: its compute hosts, its servers, how
// long Nova takes to do things and which operations fail. It is the JSON
// document `kaifuku run --cloud` and `[compute] fixture` read; zero values
// mean the documented defaults, so a Fixture built in Go needs only what it
// cares about.
type Fixture struct {
	Hosts   []Host   `json:"hosts"`
	Servers []Server `json:"servers,omitempty"`
	Latency Latency  `json:"latency_ms"`
	// ServiceDownTime is Nova's service_down_time in seconds: how long after
	// its nova-compute dies a host is still reported up (default 60).
	ServiceDownTime int `json:"service_down_time,omitempty"`
	// RPCTimeout is Nova's rpc_response_timeout in seconds: how long nova-api
	// waits for a dead compute when a service is enabled or disabled while
	// Nova still believes it up (default 60).
	RPCTimeout int     `json:"rpc_timeout,omitempty"`
	Faults     []Fault `json:"faults,omitempty"`
}

// Host is a compute host and its nova-compute service.
type Host struct {
	Name           string `json:"name"`
	Status         string `json:"status,omitempty"`          // enabled (default) | disabled
	DisabledReason string `json:"disabled_reason,omitempty"` // only with status disabled
	// State is what Nova reports at the start: up (default) or down. A host
	// reported down has a dead nova-compute, unless it is forced down.
	State string `json:"state,omitempty"`
	// Failed marks a host whose nova-compute has just died: Nova still reports
	// it up until service_down_time has passed (the window of the RPC trap).
	Failed     bool `json:"failed,omitempty"`
	ForcedDown bool `json:"forced_down,omitempty"`
	// Reserved hosts are the segment's reserved hosts in `kaifuku run`.
	Reserved   bool     `json:"reserved,omitempty"`
	Aggregates []string `json:"aggregates,omitempty"`
	// HypervisorHostname is the node name servers on this host report
	// (default: the host name).
	HypervisorHostname string `json:"hypervisor_hostname,omitempty"`
	// ServiceID is the nova-compute service's UUID (default: derived from the
	// host name, so it is the same on every load).
	ServiceID string `json:"service_id,omitempty"`
	// MaxServers is how many servers the scheduler may place on the host
	// (0: no limit).
	MaxServers int `json:"max_servers,omitempty"`
	// BMC is how the host's simulated BMC behaves when it is fenced: ok
	// (default), refuse (wrong credentials), stuck (the power never goes
	// off), hang (never answers) or unreachable.
	BMC string `json:"bmc,omitempty"`
	// PoweredOff starts the host with its power off.
	PoweredOff bool `json:"powered_off,omitempty"`
}

// Server is a Nova server.
type Server struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Host string `json:"host"`
	// VMState defaults to active; TaskState "" (or null in JSON) is None.
	VMState   string `json:"vm_state,omitempty"`
	TaskState string `json:"task_state,omitempty"`
	// PowerState 0 means the usual one for VMState (1 running, 4 shutdown...).
	PowerState int               `json:"power_state,omitempty"`
	Locked     bool              `json:"locked,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	TenantID   string            `json:"tenant_id,omitempty"`
	UserID     string            `json:"user_id,omitempty"`
	// Status is derived from vm_state and task_state; when given it must match.
	Status string `json:"status,omitempty"`
}

// Latency is how long Nova takes, in milliseconds: every API call (api), and
// the work behind an accepted stop, start or evacuation.
type Latency struct {
	API      int `json:"api,omitempty"`
	Stop     int `json:"stop,omitempty"`
	Start    int `json:"start,omitempty"`
	Evacuate int `json:"evacuate,omitempty"`
}

// Fault makes an operation fail. It matches a call when Op matches and, when
// set, Server (id or name) and Host (the server's current host, or the host a
// service, server list or aggregate call is about).
type Fault struct {
	Op     string `json:"op"`
	Server string `json:"server,omitempty"`
	Host   string `json:"host,omitempty"`
	// Error is conflict (409), not_found (404), invalid (400), forbidden
	// (403), unavailable (500), error (stop/start/evacuate: accepted, and the
	// server goes to vm_state error when the work would complete; other
	// operations: 500) or never (stop/start/evacuate: accepted, never
	// completes).
	Error string `json:"error"`
	// Count is how many calls the fault hits before it clears (0: all).
	Count int `json:"count,omitempty"`
}

// Operations a fault can name. update_service matches every service update;
// the four after it match the kind of update.
var faultOps = []string{
	"list_servers", "list_servers_changed", "get_server", "list_services", "update_service",
	"disable_service", "enable_service", "force_down", "force_up",
	"evacuate", "reset_state", "stop", "start", "lock", "unlock",
	"list_aggregates", "add_host_to_aggregate",
}

// serverOps are the calls about one server (counted in server.calls).
var serverOps = [...]string{"get_server", "evacuate", "reset_state", "stop", "start", "lock", "unlock"}

var asyncOps = []string{"evacuate", "stop", "start"}

var faultErrors = []string{"conflict", "not_found", "invalid", "forbidden", "unavailable", "error", "never"}

const (
	defaultServiceDownTime = 60
	defaultRPCTimeout      = 60
)

// Problem is one thing wrong with a fixture: where it is and what.
type Problem struct {
	File         string
	Line, Column int    // 0 when unknown (a Fixture built in Go)
	Path         string // e.g. hosts[2].name
	Message      string
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems are all the problems of one fixture, one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFixture reads and parses a fixture file.
func LoadFixture(path string) (Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Fixture{}, fmt.Errorf("read cloud fixture: %w", err)
	}
	return ParseFixture(path, data)
}

// ParseFixture parses a fixture strictly: unknown keys, values of the wrong
// type and inconsistent contents are errors (of type Problems) naming the
// file name, line, column and key path.
func ParseFixture(name string, data []byte) (Fixture, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Fixture{}, Problems{{File: name, Line: 1, Column: 1, Message: "empty file: want a JSON object"}}
	}
	root, err := jsontree.Parse(data, jsontree.Refuse)
	if err != nil {
		se := err.(*jsontree.SyntaxError)
		line, col := jsontree.LineCol(data, se.Off)
		return Fixture{}, Problems{{File: name, Line: line, Column: col, Message: se.Msg}}
	}
	d := &decoder{name: name, data: data, pos: map[string]int64{}}
	f := d.fixture(root)
	ps := d.probs
	// Contents are checked even after type errors, except where a value
	// could not be read: what was read of it would only mislead.
	for _, p := range f.validate() {
		if d.unreadable(p.Path) {
			continue
		}
		p.File = name
		if off, ok := d.lookup(p.Path); ok {
			p.Line, p.Column = jsontree.LineCol(data, off)
		}
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		sort.SliceStable(ps, func(i, j int) bool {
			if ps[i].Line != ps[j].Line {
				return ps[i].Line < ps[j].Line
			}
			return ps[i].Column < ps[j].Column
		})
		return Fixture{}, ps
	}
	return f, nil
}

// unreadable reports whether a decoding problem concerns path, a value
// inside it or the value holding it.
func (d *decoder) unreadable(path string) bool {
	within := func(inner, outer string) bool {
		return inner == outer || outer == "" ||
			strings.HasPrefix(inner, outer) && (inner[len(outer)] == '.' || inner[len(outer)] == '[')
	}
	for _, p := range d.probs {
		if within(path, p.Path) || within(p.Path, path) {
			return true
		}
	}
	return false
}

// decoder turns a node tree into a Fixture, recording the position of every
// path for the problems validate finds later.
type decoder struct {
	name  string
	data  []byte
	probs Problems
	pos   map[string]int64
}

func (d *decoder) lookup(path string) (int64, bool) {
	for path != "" {
		if off, ok := d.pos[path]; ok {
			return off, true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	off, ok := d.pos[""]
	return off, ok
}

func (d *decoder) problem(off int64, path, format string, args ...any) {
	line, col := jsontree.LineCol(d.data, off)
	d.probs = append(d.probs, Problem{File: d.name, Line: line, Column: col, Path: path,
		Message: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object walks an object's keys, calling field for the known ones.
func (d *decoder) object(n *jsontree.Node, path string, known []string, field func(key string, v *jsontree.Node, p string)) bool {
	d.pos[path] = n.Off
	if n.Kind != jsontree.Object {
		d.problem(n.Off, path, "want an object, got %s", kindName(n))
		return false
	}
	for i, k := range n.Keys {
		p := join(path, k)
		if !contains(known, k) {
			d.problem(n.KeyOffs[i], path, "unknown key %q%s", k, suggest(k, known))
			continue
		}
		d.pos[p] = n.Elems[i].Off
		field(k, n.Elems[i], p)
	}
	return true
}

func (d *decoder) list(n *jsontree.Node, path string, elem func(i int, v *jsontree.Node, p string)) {
	d.pos[path] = n.Off
	if n.Kind == jsontree.Object && len(n.Keys) == 0 {
		return // an empty Lua table encodes as {}
	}
	if n.Kind != jsontree.Array {
		d.problem(n.Off, path, "want a list, got %s", kindName(n))
		return
	}
	for i, v := range n.Elems {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.pos[p] = v.Off
		elem(i, v, p)
	}
}

func (d *decoder) str(n *jsontree.Node, path string, nullOK bool) string {
	if n.Kind == jsontree.Null && nullOK {
		return ""
	}
	if n.Kind != jsontree.String {
		d.problem(n.Off, path, "want a string, got %s", kindName(n))
		return ""
	}
	return n.Str
}

func (d *decoder) boolean(n *jsontree.Node, path string) bool {
	if n.Kind != jsontree.Bool {
		hint := ""
		if n.Kind == jsontree.String {
			hint = fmt.Sprintf(" (write %s without quotes)", strings.ToLower(n.Str))
		}
		d.problem(n.Off, path, "want true or false, got %s%s", kindName(n), hint)
		return false
	}
	return n.Bool
}

func (d *decoder) integer(n *jsontree.Node, path string, min, max int64) int {
	if n.Kind != jsontree.Number {
		d.problem(n.Off, path, "want a whole number, got %s", kindName(n))
		return 0
	}
	v, err := n.Num.Int64()
	if err != nil {
		d.problem(n.Off, path, "want a whole number, got %s", n.Num)
		return 0
	}
	if v < min || v > max {
		d.problem(n.Off, path, "%d is out of range [%d, %d]", v, min, max)
		return 0
	}
	return int(v)
}

func (d *decoder) fixture(root *jsontree.Node) Fixture {
	var f Fixture
	d.object(root, "", []string{"hosts", "servers", "latency_ms", "service_down_time", "rpc_timeout", "faults"},
		func(k string, v *jsontree.Node, p string) {
			switch k {
			case "hosts":
				d.list(v, p, func(_ int, e *jsontree.Node, ep string) { f.Hosts = append(f.Hosts, d.host(e, ep)) })
			case "servers":
				d.list(v, p, func(_ int, e *jsontree.Node, ep string) { f.Servers = append(f.Servers, d.server(e, ep)) })
			case "latency_ms":
				d.object(v, p, []string{"api", "stop", "start", "evacuate"}, func(k string, v *jsontree.Node, p string) {
					ms := d.integer(v, p, 0, int64(time.Hour/time.Millisecond))
					switch k {
					case "api":
						f.Latency.API = ms
					case "stop":
						f.Latency.Stop = ms
					case "start":
						f.Latency.Start = ms
					case "evacuate":
						f.Latency.Evacuate = ms
					}
				})
			case "service_down_time":
				f.ServiceDownTime = d.integer(v, p, 1, 86400)
			case "rpc_timeout":
				f.RPCTimeout = d.integer(v, p, 1, 86400)
			case "faults":
				d.list(v, p, func(_ int, e *jsontree.Node, ep string) { f.Faults = append(f.Faults, d.fault(e, ep)) })
			}
		})
	return f
}

func (d *decoder) host(n *jsontree.Node, path string) Host {
	var h Host
	d.fields(n, path,
		d.strTo("name", &h.Name), d.strTo("status", &h.Status), d.nullableStrTo("disabled_reason", &h.DisabledReason),
		d.strTo("state", &h.State), d.boolTo("failed", &h.Failed), d.boolTo("forced_down", &h.ForcedDown),
		d.boolTo("reserved", &h.Reserved),
		field{"aggregates", func(v *jsontree.Node, p string) {
			d.list(v, p, func(_ int, e *jsontree.Node, ep string) { h.Aggregates = append(h.Aggregates, d.str(e, ep, false)) })
		}},
		d.strTo("hypervisor_hostname", &h.HypervisorHostname), d.strTo("service_id", &h.ServiceID),
		d.intTo("max_servers", &h.MaxServers, 0, 1<<20), d.strTo("bmc", &h.BMC), d.boolTo("powered_off", &h.PoweredOff))
	return h
}

func (d *decoder) server(n *jsontree.Node, path string) Server {
	var s Server
	d.fields(n, path,
		d.strTo("id", &s.ID), d.strTo("name", &s.Name), d.strTo("host", &s.Host), d.strTo("vm_state", &s.VMState),
		d.nullableStrTo("task_state", &s.TaskState), d.intTo("power_state", &s.PowerState, 0, 7), d.boolTo("locked", &s.Locked),
		field{"metadata", func(v *jsontree.Node, p string) { s.Metadata = d.metadata(v, p) }},
		d.strTo("tenant_id", &s.TenantID), d.strTo("user_id", &s.UserID), d.strTo("status", &s.Status))
	return s
}

// metadata decodes a server's metadata: an object of strings, as in Nova.
func (d *decoder) metadata(v *jsontree.Node, p string) map[string]string {
	if v.Kind == jsontree.Array && len(v.Elems) == 0 {
		return nil // an empty Lua table encodes as []
	}
	if v.Kind != jsontree.Object {
		d.problem(v.Off, p, "want an object, got %s", kindName(v))
		return nil
	}
	md := map[string]string{}
	for i, mk := range v.Keys {
		mv := v.Elems[i]
		mp := join(p, mk)
		if mv.Kind != jsontree.String {
			shown := string(mv.Num)
			if mv.Kind == jsontree.Bool {
				shown = fmt.Sprint(mv.Bool)
			}
			d.problem(mv.Off, mp, "metadata values are strings in Nova, got %s (write \"%s\")",
				kindName(mv), metadataHint(shown))
			continue
		}
		md[mk] = mv.Str
	}
	return md
}

func metadataHint(v string) string {
	switch v {
	case "true":
		return "True"
	case "false":
		return "False"
	case "":
		return "..."
	}
	return v
}

func (d *decoder) fault(n *jsontree.Node, path string) Fault {
	var f Fault
	d.fields(n, path, d.strTo("op", &f.Op), d.strTo("server", &f.Server), d.strTo("host", &f.Host),
		d.strTo("error", &f.Error), d.intTo("count", &f.Count, 0, 1<<30))
	return f
}

// field binds a key of a fixture object to what decodes its value.
type field struct {
	key string
	set func(v *jsontree.Node, p string)
}

// fields decodes an object whose known keys are those of fs, in that order.
func (d *decoder) fields(n *jsontree.Node, path string, fs ...field) bool {
	known := make([]string, len(fs))
	for i, f := range fs {
		known[i] = f.key
	}
	return d.object(n, path, known, func(k string, v *jsontree.Node, p string) {
		for _, f := range fs {
			if f.key == k {
				f.set(v, p)
				return
			}
		}
	})
}

func (d *decoder) strTo(key string, dst *string) field {
	return field{key, func(v *jsontree.Node, p string) { *dst = d.str(v, p, false) }}
}

func (d *decoder) nullableStrTo(key string, dst *string) field {
	return field{key, func(v *jsontree.Node, p string) { *dst = d.str(v, p, true) }}
}

func (d *decoder) boolTo(key string, dst *bool) field {
	return field{key, func(v *jsontree.Node, p string) { *dst = d.boolean(v, p) }}
}

func (d *decoder) intTo(key string, dst *int, lo, hi int64) field {
	return field{key, func(v *jsontree.Node, p string) { *dst = d.integer(v, p, lo, hi) }}
}

// validate checks a fixture's contents; problems carry paths but no file
// positions.
func (f Fixture) validate() Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if f.ServiceDownTime < 0 {
		add("service_down_time", "must be at least 1 second")
	}
	if f.RPCTimeout < 0 {
		add("rpc_timeout", "must be at least 1 second")
	}
	for k, ms := range map[string]int{"api": f.Latency.API, "stop": f.Latency.Stop, "start": f.Latency.Start,
		"evacuate": f.Latency.Evacuate} {
		if ms < 0 {
			add("latency_ms."+k, "must not be negative")
		}
	}
	if len(f.Hosts) == 0 {
		add("hosts", "a cloud needs at least one host")
	}
	hostNames := []string{}
	hosts := map[string]bool{}
	serviceIDs := map[string]string{}
	for i, h := range f.Hosts {
		p := fmt.Sprintf("hosts[%d]", i)
		switch {
		case h.Name == "":
			add(p, "missing \"name\"")
		case hosts[h.Name]:
			add(p+".name", "duplicate host name %q", h.Name)
		default:
			hosts[h.Name] = true
			hostNames = append(hostNames, h.Name)
		}
		if h.Status != "" && h.Status != "enabled" && h.Status != "disabled" {
			add(p+".status", "unknown status %q: want enabled or disabled%s", h.Status,
				suggest(h.Status, []string{"enabled", "disabled"}))
		}
		if h.BMC != "" && !contains(bmcModes, h.BMC) {
			add(p+".bmc", "unknown BMC behaviour %q%s", h.BMC, suggest(h.BMC, bmcModes))
		}
		if h.DisabledReason != "" && h.Status != "disabled" {
			add(p+".disabled_reason", "only a disabled service has a disabled_reason")
		}
		switch h.State {
		case "", "up":
			if h.State == "up" && h.ForcedDown {
				add(p+".state", "a forced down service is reported down, not up")
			}
		case "down":
		default:
			add(p+".state", "unknown state %q: want up or down%s", h.State, suggest(h.State, []string{"up", "down"}))
		}
		seen := map[string]bool{}
		for j, a := range h.Aggregates {
			ap := fmt.Sprintf("%s.aggregates[%d]", p, j)
			if a == "" {
				add(ap, "empty aggregate name")
			} else if seen[a] {
				add(ap, "aggregate %q listed twice", a)
			}
			seen[a] = true
		}
		if h.ServiceID != "" {
			if _, err := uuid.Parse(h.ServiceID); err != nil {
				add(p+".service_id", "%q is not a UUID (Nova's service ids are UUIDs since microversion 2.53)", h.ServiceID)
			} else if other, dup := serviceIDs[strings.ToLower(h.ServiceID)]; dup {
				add(p+".service_id", "service id %s is also the service of host %q", h.ServiceID, other)
			}
			serviceIDs[strings.ToLower(h.ServiceID)] = h.Name
		}
		if h.MaxServers < 0 {
			add(p+".max_servers", "must not be negative")
		}
	}
	ids := map[string]bool{}
	names := map[string]bool{}
	var serverRefs []string
	for i, s := range f.Servers {
		p := fmt.Sprintf("servers[%d]", i)
		switch {
		case s.ID == "":
			add(p, "missing \"id\"")
		case !isUUID(s.ID):
			add(p+".id", "%q is not a UUID (Nova's server ids are UUIDs)", s.ID)
		case ids[strings.ToLower(s.ID)]:
			add(p+".id", "duplicate server id %s", s.ID)
		default:
			ids[strings.ToLower(s.ID)] = true
			serverRefs = append(serverRefs, s.ID)
		}
		switch {
		case s.Name == "":
			add(p, "missing \"name\"")
		case names[s.Name]:
			add(p+".name", "duplicate server name %q", s.Name)
		default:
			names[s.Name] = true
			serverRefs = append(serverRefs, s.Name)
		}
		switch {
		case s.Host == "":
			add(p, "missing \"host\"")
		case !hosts[s.Host]:
			add(p+".host", "unknown host %q%s", s.Host, suggest(s.Host, hostNames))
		}
		vm := s.VMState
		if vm == "" {
			vm = "active"
		}
		if !contains(vmStates, vm) {
			add(p+".vm_state", "unknown vm_state %q%s", s.VMState, suggest(s.VMState, vmStates))
		}
		if s.TaskState != "" && !contains(taskStates, s.TaskState) {
			add(p+".task_state", "unknown task_state %q%s", s.TaskState, suggest(s.TaskState, taskStates))
		}
		if s.PowerState != 0 && !contains(powerStates, s.PowerState) {
			add(p+".power_state", "unknown power_state %d: want 0 (no state), 1 (running), 3 (paused), "+
				"4 (shutdown), 6 (crashed) or 7 (suspended)", s.PowerState)
		}
		if s.Status != "" && contains(vmStates, vm) {
			if want := serverStatus(vm, s.TaskState); s.Status != want {
				add(p+".status", "status %q does not match vm_state %q (Nova reports %q); drop \"status\", it is derived",
					s.Status, vm, want)
			}
		}
	}
	for i, ft := range f.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		for _, q := range ft.check(hostNames, serverRefs) {
			add(p+q.Path, "%s", q.Message)
		}
	}
	return ps
}

// check validates one fault against the cloud's hosts and servers (ids and
// names); problem paths are relative (".op").
func (ft Fault) check(hosts, servers []string) Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case ft.Op == "":
		add("", "missing \"op\"")
	case !contains(faultOps, ft.Op):
		add(".op", "unknown op %q%s", ft.Op, suggest(ft.Op, faultOps))
	}
	if ft.Server != "" {
		if ft.Op != "" && contains(faultOps, ft.Op) && !contains(serverOps[:], ft.Op) {
			add(".server", "op %q does not act on one server; use \"host\"", ft.Op)
		}
		found := false
		for _, s := range servers {
			if strings.EqualFold(s, ft.Server) {
				found = true
			}
		}
		if !found {
			add(".server", "unknown server %q%s", ft.Server, suggest(ft.Server, servers))
		}
	}
	if ft.Host != "" && !contains(hosts, ft.Host) {
		add(".host", "unknown host %q%s", ft.Host, suggest(ft.Host, hosts))
	}
	switch {
	case ft.Error == "":
		add("", "missing \"error\"")
	case !contains(faultErrors, ft.Error):
		add(".error", "unknown error %q: want one of %s%s", ft.Error, strings.Join(faultErrors, ", "),
			suggest(ft.Error, faultErrors))
	case ft.Error == "never" && contains(faultOps, ft.Op) && !contains(asyncOps, ft.Op):
		add(".error", "\"never\" applies to evacuate, stop and start only (%s answers at once)", ft.Op)
	}
	if ft.Count < 0 {
		add(".count", "must not be negative")
	}
	return ps
}

// kindName names a value's type in problems.
func kindName(n *jsontree.Node) string {
	switch n.Kind {
	case jsontree.Object:
		return "an object"
	case jsontree.Array:
		return "a list"
	case jsontree.String:
		return "a string"
	case jsontree.Number:
		return "a number"
	case jsontree.Bool:
		return "true or false"
	}
	return "null"
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// suggest returns ` (did you mean "x"?)` for the closest candidate, if any
// is close enough.
func suggest(got string, candidates []string) string {
	if len(got) >= 3 {
		for _, c := range candidates {
			if strings.HasPrefix(c, got+"_") {
				return fmt.Sprintf(" (did you mean %q?)", c)
			}
		}
	}
	if c := conf.Closest(got, candidates, 1, nearFixtureValue); len(c) > 0 && c[0] != got {
		return fmt.Sprintf(" (did you mean %q?)", c[0])
	}
	return ""
}

// nearFixtureValue allows about a third of the word's length in edits, at
// least 1 and at most 3.
func nearFixtureValue(got, _ string, d int) bool {
	return d <= min(max(len(got)/3, 1), 3)
}

// aggregateNames returns the fixture's aggregate names in id order (sorted).
func (f Fixture) aggregateNames() []string {
	set := map[string]bool{}
	for _, h := range f.Hosts {
		for _, a := range h.Aggregates {
			set[a] = true
		}
	}
	names := make([]string, 0, len(set))
	for a := range set {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}
