package script

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// shippedDir is the scripts directory of the repository.
const shippedDir = "../../scripts"

// peer is an HTTP server that records JSON posts and answers with status.
type peer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	heads  []http.Header
	status []int // answers in order; the last one repeats
}

func newPeer(t *testing.T, status ...int) *peer {
	p := &peer{status: status}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		p.mu.Lock()
		p.bodies = append(p.bodies, v)
		p.heads = append(p.heads, r.Header.Clone())
		st := p.status[min(len(p.bodies)-1, len(p.status)-1)]
		p.mu.Unlock()
		w.WriteHeader(st)
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(p.Close)
	return p
}

func shippedConfig(t *testing.T, sections map[string]map[string]string, hosts ...string) *conf.Config {
	cfg := conf.Defaults()
	cfg.Lua.HTTPAllowedHosts = hosts
	cfg.Sections = map[string]conf.Section{}
	for name, vals := range sections {
		cfg.Sections[name] = conf.Section{Name: name, Values: vals}
	}
	return cfg
}

var shippedCloud = &fakeCloud{servers: []compute.Server{
	{ID: "s-1", Name: "app-1", Status: "ACTIVE", Host: "compute2", VMState: "active", TenantID: "t-1", UserID: "u-1",
		Metadata: map[string]string{"HA_Enabled": "True", "owner_email": "alice@example.com"}},
	{ID: "s-2", Name: "app-2", Status: "ACTIVE", Host: "compute2", VMState: "active", TenantID: "t-2",
		Metadata: map[string]string{"owner_email": "bob@example.com"}},
}}

func TestShippedNotifyWebhook(t *testing.T) {
	hook := newPeer(t, 503, 200)
	cfg := shippedConfig(t, map[string]map[string]string{"notify_webhook": {"url": hook.URL + "/hooks/kaifuku",
		"channel": "#ops", "token": "s3cret", "retry_delay": "1"}}, hostOf(t, hook.URL))
	f := newFixture(t, Options{Dir: shippedDir, Config: cfg, Cloud: shippedCloud}, nil)
	start := f.clock.Now()
	res := f.runHost(engine.Store{"host_name": "compute1", "instance_list": []any{"s-1", "s-2"}}, "notify_webhook")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(hook.bodies) != 2 || f.clock.Now().Sub(start) != time.Second {
		t.Fatalf("posts %d, slept %v (want a retry after 1s)", len(hook.bodies), f.clock.Now().Sub(start))
	}
	b := hook.bodies[1]
	ev := b["event"].(map[string]any)
	if !strings.Contains(b["text"].(string), "compute host compute1 failed: evacuating 2 instance(s)") || b["channel"] != "#ops" ||
		ev["kind"] != "host" || fmt.Sprint(ev["instances"]) != "[s-1 s-2]" {
		t.Fatalf("body %v", b)
	}
	if hook.heads[1].Get("X-Auth-Token") != "s3cret" || hook.heads[1].Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", hook.heads[1])
	}

	// Misconfiguration (refused as the flow is built, from the declared
	// settings) and an unreachable webhook.
	f = newFixture(t, Options{Dir: shippedDir, Config: shippedConfig(t, nil)}, nil)
	if err := f.build("notify_webhook"); err == nil || !strings.Contains(err.Error(), "[notify_webhook] url is required") {
		t.Fatalf("%v", err)
	}
	down := newPeer(t, 500)
	cfg = shippedConfig(t, map[string]map[string]string{"notify_webhook": {"url": down.URL, "retries": "1", "retry_delay": "1"}}, hostOf(t, down.URL))
	f = newFixture(t, Options{Dir: shippedDir, Config: cfg}, nil)
	if res := f.run(nil, "notify_webhook"); res.Err != nil {
		t.Fatalf("fail_on_error=false must not fail the recovery: %v", res.Err)
	}
	cfg.Sections["notify_webhook"].Values["fail_on_error"] = "true"
	f = newFixture(t, Options{Dir: shippedDir, Config: cfg}, nil)
	if res := f.run(nil, "notify_webhook"); res.Err == nil || !strings.Contains(res.Err.Error(), "webhook not notified: HTTP 500") {
		t.Fatalf("%v", res.Err)
	}
}

func TestShippedUpdateMetering(t *testing.T) {
	api := newPeer(t, 201)
	cfg := shippedConfig(t, map[string]map[string]string{"update_metering": {"url": api.URL + "/v1/recoveries"}}, hostOf(t, api.URL))
	f := newFixture(t, Options{Dir: shippedDir, Config: cfg, Cloud: shippedCloud}, nil)
	res := f.runHost(engine.Store{"host_name": "compute1", "instance_list": []any{"s-1", "s-2"}}, "update_metering")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.Store["metering_records"] != 2.0 || len(api.bodies) != 1 {
		t.Fatalf("%v %v", res.Store["metering_records"], api.bodies)
	}
	b := api.bodies[0]
	inst := b["instances"].([]any)[0].(map[string]any)
	if b["failed_host"] != "compute1" || b["recovered_at"] != "2026-11-25T10:00:00Z" || inst["host"] != "compute2" ||
		inst["tenant_id"] != "t-1" || inst["recovered_at"] != "2026-11-25T10:00:00Z" {
		t.Fatalf("body %v", b)
	}
	// A 4xx is not retried and fails the task by default (metering is billing).
	bad := newPeer(t, 400)
	cfg = shippedConfig(t, map[string]map[string]string{"update_metering": {"url": bad.URL}}, hostOf(t, bad.URL))
	f = newFixture(t, Options{Dir: shippedDir, Config: cfg, Cloud: shippedCloud}, nil)
	res = f.run(engine.Store{"instance_uuid": "s-1"}, "update_metering")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "metering API not updated: HTTP 400") || len(bad.bodies) != 1 {
		t.Fatalf("%v, %d posts", res.Err, len(bad.bodies))
	}
}

func TestShippedSendAlertMail(t *testing.T) {
	srv := newSMTPServer(t, false)
	host, port, _ := net.SplitHostPort(srv.ln.Addr().String())
	cfg := shippedConfig(t, map[string]map[string]string{"send_alert_mail": {"to": "ops@example.com, oncall@example.com",
		"notify_owners": "true"}})
	cfg.SMTP = conf.SMTP{Host: host, From: "kaifuku@example.com"}
	fmt.Sscan(port, &cfg.SMTP.Port)
	f := newFixture(t, Options{Dir: shippedDir, Config: cfg, Cloud: shippedCloud}, nil)
	res := f.runHost(engine.Store{"host_name": "compute1", "instance_list": []any{"s-1", "s-2"}}, "send_alert_mail")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.mails) != 3 {
		t.Fatalf("%d mails, want operators + 2 owners", len(srv.mails))
	}
	ops := srv.mails[0]
	for _, want := range []string{"To: ops@example.com, oncall@example.com", "compute host compute1 failed", "app-1", "app-2"} {
		if !strings.Contains(ops, want) {
			t.Errorf("operators' mail lacks %q:\n%s", want, ops)
		}
	}
	if !strings.Contains(srv.mails[1], "To: alice@example.com") || strings.Contains(srv.mails[1], "app-2") {
		t.Errorf("alice's mail:\n%s", srv.mails[1])
	}
	// Missing "to" is refused from the declared settings.
	f = newFixture(t, Options{Dir: shippedDir, Config: shippedConfig(t, nil)}, nil)
	if err := f.build("send_alert_mail"); err == nil || !strings.Contains(err.Error(), "[send_alert_mail] to is required") {
		t.Fatalf("%v", err)
	}
}
