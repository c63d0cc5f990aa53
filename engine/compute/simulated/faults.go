package simulated

import (
	"fmt"
	"net/http"
	"strings"
)

// activeFault is a fault with the hits it has left.
type activeFault struct {
	Fault
	left int // hits left; 0: unlimited
}

func (c *Cloud) newFault(ft Fault) *activeFault {
	if s := c.findServer(ft.Server); s != nil {
		ft.Server = s.id
	}
	return &activeFault{Fault: ft, left: ft.Count}
}

// injected applies a matching synchronous fault: the call fails.
func (c *Cloud) injected(op string, s *server, hostName string) error {
	f := c.matchFault(op, s, hostName)
	if f == nil {
		return nil
	}
	return faultError(f.Error, op, s)
}

// injectedAsync applies a matching fault to an accepted operation: error
// and never shape its pending work, the others fail the call.
//
// A fault that shapes the work is only used up when Nova accepts the action
// (see accept): a call refused for another reason leaves it for the next.
func (c *Cloud) injectedAsync(op string, s *server, p *pending) error {
	f := c.findFault(op, s, s.host)
	if f == nil {
		return nil
	}
	switch f.Error {
	case "error":
		p.fail, p.fault = true, f
		return nil
	case "never":
		p.never, p.fault = true, f
		return nil
	}
	c.useFault(f)
	return faultError(f.Error, op, s)
}

// accept uses up the fault that shapes an accepted action.
func (c *Cloud) accept(p *pending) {
	if p.fault != nil {
		c.useFault(p.fault)
		p.fault = nil
	}
}

func (c *Cloud) matchFault(op string, s *server, hostName string) *activeFault {
	f := c.findFault(op, s, hostName)
	if f != nil {
		c.useFault(f)
	}
	return f
}

// useFault counts a hit and removes the fault after its last one.
func (c *Cloud) useFault(f *activeFault) {
	if f.left == 0 {
		return
	}
	f.left--
	if f.left > 0 {
		return
	}
	for i, x := range c.faults {
		if x == f {
			c.faults = append(c.faults[:i:i], c.faults[i+1:]...)
			return
		}
	}
}

func (c *Cloud) findFault(op string, s *server, hostName string) *activeFault {
	for _, f := range c.faults {
		if f.Op != op {
			continue
		}
		if f.Server != "" && (s == nil || !strings.EqualFold(f.Server, s.id)) {
			continue
		}
		if f.Host != "" && f.Host != hostName {
			continue
		}
		return f
	}
	return nil
}

func faultError(kind, op string, s *server) error {
	what := op
	if s != nil {
		what = fmt.Sprintf("%s of instance %s", op, s.id)
	}
	switch kind {
	case "conflict":
		return apiError(http.StatusConflict, "Injected fault: %s answers 409 Conflict.", what)
	case "not_found":
		return apiError(http.StatusNotFound, "Injected fault: %s answers 404 Not Found.", what)
	case "invalid":
		return apiError(http.StatusBadRequest, "Injected fault: %s answers 400 Bad Request.", what)
	case "forbidden":
		return apiError(http.StatusForbidden, "Injected fault: %s answers 403 Forbidden.", what)
	}
	return apiError(http.StatusInternalServerError,
		"Unexpected API Error. Injected fault: %s answers 500 Internal Server Error.", what)
}

// InjectFault adds a fault at run time, checked as a fixture's faults are.
func (c *Cloud) InjectFault(f Fault) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var hosts, servers []string
	for _, h := range c.hosts {
		hosts = append(hosts, h.name)
	}
	for _, s := range c.servers {
		servers = append(servers, s.id, s.name)
	}
	if ps := f.check(hosts, servers); len(ps) > 0 {
		for i := range ps {
			ps[i].Path = "fault" + ps[i].Path
		}
		return ps
	}
	c.faults = append(c.faults, c.newFault(f))
	return nil
}

// ClearFaults removes every fault.
func (c *Cloud) ClearFaults() {
	c.mu.Lock()
	c.faults = nil
	c.mu.Unlock()
}

// Faults lists the faults still active, with the hits they have left in
// Count (0: unlimited).
func (c *Cloud) Faults() []Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Fault, 0, len(c.faults))
	for _, f := range c.faults {
		ft := f.Fault
		ft.Count = f.left
		out = append(out, ft)
	}
	return out
}
