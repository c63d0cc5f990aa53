package nova

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/goccy/go-json"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/aggregates"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// server is Nova's server at 2.53 with the fields the tasks read, under
// Nova's names.
type server struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Status             string            `json:"status"`
	TenantID           string            `json:"tenant_id"`
	UserID             string            `json:"user_id"`
	Metadata           map[string]string `json:"metadata"`
	Host               string            `json:"OS-EXT-SRV-ATTR:host"`
	HypervisorHostname string            `json:"OS-EXT-SRV-ATTR:hypervisor_hostname"`
	VMState            string            `json:"OS-EXT-STS:vm_state"`
	TaskState          *string           `json:"OS-EXT-STS:task_state"`
	PowerState         int               `json:"OS-EXT-STS:power_state"`
	Locked             bool              `json:"locked"`
}

func (s server) compute() compute.Server {
	out := compute.Server{
		ID: s.ID, Name: s.Name, Status: s.Status, Host: s.Host, HypervisorHostname: s.HypervisorHostname,
		VMState: s.VMState, PowerState: s.PowerState, Locked: s.Locked, Metadata: s.Metadata,
		TenantID: s.TenantID, UserID: s.UserID,
	}
	if s.TaskState != nil {
		out.TaskState = *s.TaskState
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out
}

// serverPage is one page of GET /servers/detail.
type serverPage struct {
	Servers []server `json:"servers"`
	Links   []struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	} `json:"servers_links"`
}

// maxPages bounds pagination against a server that keeps answering "next".
const maxPages = 1000

// ListServers is GET /servers/detail?all_tenants=True&host=<host>, following
// Nova's "next" links. It decodes pages straight into the fields it needs
// (servers.List's pager decodes every page three times).
func (c *Cloud) ListServers(ctx context.Context, host string) ([]compute.Server, error) {
	q := url.Values{"all_tenants": {"True"}}
	if host != "" {
		q.Set("host", host)
	}
	return c.listServers(ctx, "list servers on host "+host, q)
}

// ListServersChangedSince is GET
// /servers/detail?all_tenants=True&changes-since=<since>, following Nova's
// "next" links.
func (c *Cloud) ListServersChangedSince(ctx context.Context, since time.Time) ([]compute.Server, error) {
	ts := since.UTC().Format(time.RFC3339Nano)
	q := url.Values{"all_tenants": {"True"}, "changes-since": {ts}}
	return c.listServers(ctx, "list servers changed since "+ts, q)
}

// listServers is GET /servers/detail?<q>, following Nova's "next" links.
func (c *Cloud) listServers(ctx context.Context, what string, q url.Values) ([]compute.Server, error) {
	first := c.sc.ServiceURL("servers", "detail") + "?" + q.Encode()
	var out []compute.Server
	err := c.do(ctx, what, true, func(ctx context.Context) error {
		out = []compute.Server{}
		next := first
		for range maxPages {
			var page serverPage
			if err := c.getJSON(ctx, next, &page); err != nil {
				return err
			}
			for _, s := range page.Servers {
				out = append(out, s.compute())
			}
			next = ""
			for _, l := range page.Links {
				if l.Rel == "next" {
					next = l.Href
				}
			}
			if next == "" || len(page.Servers) == 0 {
				return nil
			}
		}
		return fmt.Errorf("more than %d pages of servers", maxPages)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// serverBody is the answer of GET /servers/{id}: the server is decoded on
// its own, so that a decoding error names its fields as ExtractInto's did.
type serverBody struct {
	Server json.RawMessage `json:"server"`
}

// getOK are the answers of a GET that carry its body, as gophercloud's.
var getOK = []int{http.StatusOK, http.StatusNonAuthoritativeInfo}

// maxSizedBody bounds the buffer a body's Content-Length sizes at once; a
// larger body is read as it comes.
const maxSizedBody = 16 << 20

// maxPooledBody bounds the buffers kept for the next answers.
const maxPooledBody = 4 << 20

// bodies are the buffers getJSON reads answers into: json.Unmarshal copies
// what it keeps, so once an answer is decoded its buffer serves the next.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// getJSON is GET url, its answer decoded into v as gophercloud decodes it,
// but read whole into a buffer of its Content-Length first (gophercloud's
// decoder grows a buffer of its own by doubling, allocating about twice the
// body), kept for the next answers.
func (c *Cloud) getJSON(ctx context.Context, url string, v any) error {
	resp, err := c.sc.Get(ctx, url, nil, &gophercloud.RequestOpts{OkCodes: getOK, KeepResponseBody: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := bodies.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBody {
			bodies.Put(buf)
		}
	}()
	body, err := readBody(resp, (*buf)[:0])
	*buf = body[:0]
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return io.EOF // as a decoder says of an empty body
	}
	return json.Unmarshal(body, v)
}

// readBody appends resp's body to buf, sized at once by its Content-Length
// when it has one.
func readBody(resp *http.Response, buf []byte) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > maxSizedBody {
		b := bytes.NewBuffer(buf)
		_, err := b.ReadFrom(resp.Body)
		return b.Bytes(), err
	}
	buf = slices.Grow(buf, int(n))[:n]
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return buf, err
	}
	// reach the end, so that the connection can be reused
	_, err := io.Copy(io.Discard, resp.Body)
	return buf, err
}

// GetServer is GET /servers/{id}. It decodes the answer straight into the
// fields it needs (servers.Get decodes it into a map, which ExtractInto
// encodes and decodes again).
func (c *Cloud) GetServer(ctx context.Context, id string) (compute.Server, error) {
	var s server
	url := c.sc.ServiceURL("servers", id)
	err := c.do(ctx, "get server "+id, true, func(ctx context.Context) error {
		s = server{}
		var body serverBody
		if err := c.getJSON(ctx, url, &body); err != nil || len(body.Server) == 0 {
			return err
		}
		return json.Unmarshal(body.Server, &s)
	})
	if err != nil {
		return compute.Server{}, err
	}
	return s.compute(), nil
}

// ListServices is GET /os-services?binary=<binary>&host=<host>.
func (c *Cloud) ListServices(ctx context.Context, host, binary string) ([]compute.Service, error) {
	var out []compute.Service
	err := c.do(ctx, fmt.Sprintf("list services (host %q, binary %q)", host, binary), true, func(ctx context.Context) error {
		pages, err := services.List(c.sc, services.ListOpts{Binary: binary, Host: host}).AllPages(ctx)
		if err != nil {
			return err
		}
		svcs, err := services.ExtractServices(pages)
		if err != nil {
			return err
		}
		out = make([]compute.Service, 0, len(svcs))
		for _, s := range svcs {
			out = append(out, service(s))
		}
		return nil
	})
	return out, err
}

func service(s services.Service) compute.Service {
	return compute.Service{
		ID: s.ID, Binary: s.Binary, Host: s.Host, Status: s.Status, State: s.State,
		ForcedDown: s.ForcedDown, DisabledReason: s.DisabledReason,
	}
}

// serviceUpdate is the body of PUT /os-services/{id} at 2.53; unlike
// services.UpdateOpts it can send "forced_down": false.
type serviceUpdate map[string]any

func (u serviceUpdate) ToServiceUpdateMap() (map[string]any, error) { return u, nil }

// UpdateService is PUT /os-services/{id} (2.53): enable, disable with a reason,
// force down or up.
func (c *Cloud) UpdateService(ctx context.Context, id string, u compute.ServiceUpdate) (compute.Service, error) {
	body := serviceUpdate{}
	if u.Status != nil {
		body["status"] = *u.Status
		if *u.Status == "disabled" && u.DisabledReason != "" {
			body["disabled_reason"] = u.DisabledReason
		}
	}
	if u.ForcedDown != nil {
		body["forced_down"] = *u.ForcedDown
	}
	if len(body) == 0 {
		return compute.Service{}, fmt.Errorf("nova update service %s: nothing to change: %w", id, compute.ErrInvalid)
	}
	var out compute.Service
	// PUT sets absolute values: repeating it is harmless.
	err := c.do(ctx, "update service "+id, true, func(ctx context.Context) error {
		s, err := services.Update(ctx, c.sc, id, body).Extract()
		if err != nil {
			return err
		}
		out = service(*s)
		return nil
	})
	return out, err
}

// evacuate is the evacuate action's body at 2.53: only "host", and only when
// set (servers.EvacuateOpts always sends onSharedStorage, which Nova rejects
// since 2.14).
type evacuate struct{ host string }

func (e evacuate) ToEvacuateMap() (map[string]any, error) {
	b := map[string]any{}
	if e.host != "" {
		b["host"] = e.host
	}
	return map[string]any{"evacuate": b}, nil
}

// Evacuate is POST /servers/{id}/action {"evacuate": {"host": target}}.
func (c *Cloud) Evacuate(ctx context.Context, id, target string) error {
	body, _ := evacuate{host: target}.ToEvacuateMap()
	url := c.sc.ServiceURL("servers", id, "action")
	return c.do(ctx, "evacuate server "+id, false, func(ctx context.Context) error {
		// Not servers.Evacuate: it decodes the answer as JSON, and Nova
		// answers 200 with an empty body since 2.14.
		_, err := c.sc.Post(ctx, url, body, nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}})
		return err
	})
}

// ResetState is POST /servers/{id}/action {"os-resetState": {"state": state}}.
func (c *Cloud) ResetState(ctx context.Context, id, state string) error {
	if state != string(servers.StateActive) && state != string(servers.StateError) {
		return fmt.Errorf("nova reset state of server %s: state %q is not active or error: %w", id, state, compute.ErrInvalid)
	}
	// Setting a state is idempotent.
	return c.do(ctx, "reset state of server "+id, true, func(ctx context.Context) error {
		return servers.ResetState(ctx, c.sc, id, servers.ServerState(state)).ExtractErr()
	})
}

// Stop is POST /servers/{id}/action {"os-stop": null}.
func (c *Cloud) Stop(ctx context.Context, id string) error {
	return c.do(ctx, "stop server "+id, false, func(ctx context.Context) error {
		return servers.Stop(ctx, c.sc, id).ExtractErr()
	})
}

// Start is POST /servers/{id}/action {"os-start": null}.
func (c *Cloud) Start(ctx context.Context, id string) error {
	return c.do(ctx, "start server "+id, false, func(ctx context.Context) error {
		return servers.Start(ctx, c.sc, id).ExtractErr()
	})
}

// Lock is POST /servers/{id}/action {"lock": null}.
func (c *Cloud) Lock(ctx context.Context, id string) error {
	return c.do(ctx, "lock server "+id, false, func(ctx context.Context) error {
		return servers.Lock(ctx, c.sc, id).ExtractErr()
	})
}

// Unlock is POST /servers/{id}/action {"unlock": null}.
func (c *Cloud) Unlock(ctx context.Context, id string) error {
	return c.do(ctx, "unlock server "+id, false, func(ctx context.Context) error {
		return servers.Unlock(ctx, c.sc, id).ExtractErr()
	})
}

// ListAggregates is GET /os-aggregates.
func (c *Cloud) ListAggregates(ctx context.Context) ([]compute.Aggregate, error) {
	var out []compute.Aggregate
	err := c.do(ctx, "list aggregates", true, func(ctx context.Context) error {
		pages, err := aggregates.List(c.sc).AllPages(ctx)
		if err != nil {
			return err
		}
		aggs, err := aggregates.ExtractAggregates(pages)
		if err != nil {
			return err
		}
		out = make([]compute.Aggregate, 0, len(aggs))
		for _, a := range aggs {
			hosts := a.Hosts
			if hosts == nil {
				hosts = []string{}
			}
			out = append(out, compute.Aggregate{ID: a.ID, Name: a.Name, Hosts: hosts})
		}
		return nil
	})
	return out, err
}

// AddHostToAggregate is POST /os-aggregates/{id}/action {"add_host": ...}.
func (c *Cloud) AddHostToAggregate(ctx context.Context, aggregateID int, host string) error {
	return c.do(ctx, fmt.Sprintf("add host %s to aggregate %d", host, aggregateID), false, func(ctx context.Context) error {
		_, err := aggregates.AddHost(ctx, c.sc, aggregateID, aggregates.AddHostOpts{Host: host}).Extract()
		return err
	})
}
