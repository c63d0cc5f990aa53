package nova_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// The cost of one driver call over loopback HTTP to simcloud (gophercloud,
// JSON both ways, simcloud's rendering), with a host of 100 servers.
func BenchmarkDriverThroughSimcloud(b *testing.B) {
	f := hundredServers("")
	bd := startSimcloud(b, f, simcloud.Options{Tokens: []string{staticToken}})
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: bd.url + "/v2.1", Timeout: 10 * time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("GetServer", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.GetServer(ctx, f.Servers[7].ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListServers100", func(b *testing.B) {
		for b.Loop() {
			if s, err := c.ListServers(ctx, "compute1"); err != nil || len(s) != 100 {
				b.Fatal(len(s), err)
			}
		}
	})
	b.Run("ListServices", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.ListServices(ctx, "compute1", "nova-compute"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The driver's own cost per call, apart from the server's: simcloud's
// answers to the calls are recorded once, then replayed as they are by a
// server that does nothing else.
func BenchmarkDriverCalls(b *testing.B) {
	f := hundredServers("down")
	sim := startSimcloud(b, f, simcloud.Options{Tokens: []string{staticToken}})
	record := func(method, path string) (int, []byte) {
		b.Helper()
		req, err := http.NewRequest(method, sim.url+"/v2.1"+path, strings.NewReader(`{"lock": null}`))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", staticToken)
		req.Header.Set("OpenStack-API-Version", "compute "+nova.Microversion)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		return resp.StatusCode, body
	}
	id := f.Servers[7].ID
	getCode, getBody := record("GET", "/servers/"+id)
	listCode, listBody := record("GET", "/servers/detail?all_tenants=True&host=compute1")
	lockCode, lockBody := record("POST", "/servers/"+id+"/action")
	if getCode != http.StatusOK || listCode != http.StatusOK || lockCode != http.StatusAccepted {
		b.Fatalf("recording: GET %d, list %d, lock %d", getCode, listCode, lockCode)
	}
	replay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		answer := func(code int, body []byte) { // with the headers simcloud sends
			h := w.Header()
			h.Set("OpenStack-API-Version", "compute "+nova.Microversion)
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(code)
			_, _ = w.Write(body)
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v2.1/servers/"+id:
			answer(getCode, getBody)
		case r.Method == http.MethodGet && r.URL.Path == "/v2.1/servers/detail":
			answer(listCode, listBody)
		case r.Method == http.MethodPost && r.URL.Path == "/v2.1/servers/"+id+"/action":
			answer(lockCode, lockBody)
		default:
			http.NotFound(w, r)
		}
	}))
	b.Cleanup(replay.Close)
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: replay.URL + "/v2.1", Timeout: 10 * time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("GetServer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s, err := c.GetServer(ctx, id); err != nil || s.ID != id || s.Host != "compute1" {
				b.Fatal(s, err)
			}
		}
	})
	b.Run("ListServersChangedSince100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s, err := c.ListServersChangedSince(ctx, time.Now()); err != nil || len(s) != 100 {
				b.Fatal(len(s), err)
			}
		}
	})
	b.Run("Lock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Lock(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// hundredServers is a fixture of compute1 (in state, "" for up) with 100
// HA-enabled servers, and compute2.
func hundredServers(state string) simulated.Fixture {
	f := simulated.Fixture{Hosts: []simulated.Host{{Name: "compute1", State: state}, {Name: "compute2"}}}
	for i := range 100 {
		f.Servers = append(f.Servers, simulated.Server{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("vm-%d", i), Host: "compute1",
			Metadata: map[string]string{"HA_Enabled": "True"},
		})
	}
	return f
}
