package script

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

func hostOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestHTTP runs the http module through the real client against local
// servers: requests and answers, the allow-list, redirects and timeouts.
func TestHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, "OTHER "+r.URL.Path)
		mu.Unlock()
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Token"), body))
		mu.Unlock()
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			fmt.Fprint(w, `{"id":"ev-1","ok":true}`)
		case "/fail":
			w.WriteHeader(500)
			fmt.Fprint(w, "boom")
		case "/away":
			http.Redirect(w, r, other.URL+"/stolen", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/events", http.StatusFound)
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		}
	}))
	defer srv.Close()
	cfg := conf.Defaults()
	cfg.Lua.HTTPAllowedHosts = []string{hostOf(t, srv.URL), hostOf(t, other.URL), "127.0.0.1:1"}
	cfg.Sections = map[string]conf.Section{"caller": {Name: "caller", Values: map[string]string{"base": srv.URL}}}
	f := newFixture(t, Options{Config: cfg}, map[string]string{"caller.lua": `
return {
  provides = {"results"},
  execute = function(store)
    local base = config.required("base")
    local out = {}
    local r, err = http.request{method = "POST", url = base .. "/events", json = {text = "host down", n = 2},
                                headers = {["X-Token"] = "secret"}}
    assert(r, err)
    local ev = json.decode(r.body)
    out.post = {status = r.status, id = ev.id, ctype = r.headers["content-type"]}
    r, err = http.request{url = base .. "/fail"}
    out.fail = {status = r.status, body = r.body}
    r, err = http.request{url = base .. "/away"}
    out.away = {r = tostring(r), err = err}
    r, err = http.request{url = base .. "/moved"}
    out.moved = r.status
    r, err = http.request{url = base .. "/slow", timeout = 0.05}
    out.slow = {r = tostring(r), err = err}
    r, err = http.request{url = "http://127.0.0.1:1/closed"}
    out.closed = tostring(r)
    return {results = out}
  end,
}`})
	// 127.0.0.1 on any port is not allowed: only the two exact host:port entries.
	res := f.run(nil, "caller")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	r := res.Store["results"].(map[string]any)
	if d := cmp.Diff(map[string]any{"status": 201.0, "id": "ev-1", "ctype": "application/json"}, r["post"]); d != "" {
		t.Errorf("post: %s", d)
	}
	if d := cmp.Diff(map[string]any{"status": 500.0, "body": "boom"}, r["fail"]); d != "" {
		t.Errorf("a 500 is an answer, not an error: %s", d)
	}
	away := r["away"].(map[string]any)
	if away["r"] != "nil" || !strings.Contains(away["err"].(string), "redirects to another host are not followed") {
		t.Errorf("redirect to another host: %v", away)
	}
	if r["moved"] != 201.0 {
		t.Errorf("a redirect within the host was not followed: %v", r["moved"])
	}
	slow := r["slow"].(map[string]any)
	if slow["r"] != "nil" || !strings.Contains(slow["err"].(string), "no answer within 50ms") {
		t.Errorf("timeout: %v", slow)
	}
	if r["closed"] != "nil" {
		t.Errorf("a refused connection gave %v", r["closed"])
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0] != `POST /events application/json secret {"n":2,"text":"host down"}` {
		t.Errorf("the server saw %q", got[0])
	}
	for _, g := range got {
		if strings.HasPrefix(g, "OTHER") {
			t.Errorf("the redirect reached the other host: %v", got)
		}
	}
}

// recordingDoer is a fake HTTP peer.
type recordingDoer struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (d *recordingDoer) Do(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, r)
	d.mu.Unlock()
	return &http.Response{StatusCode: 204, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
}

// TestHTTPAllowList: a host outside [lua] http_allowed_hosts is refused
// with a clear error before any Doer (real or fake) sees the request.
func TestHTTPAllowList(t *testing.T) {
	cfg := conf.Defaults()
	cfg.Lua.HTTPAllowedHosts = []string{"hooks.example.com", "metering.example.com:8443", "[::1]:9000"}
	doer := &recordingDoer{}
	cases := map[string]string{
		"http://hooks.example.com/x":          "",
		"https://HOOKS.example.com:9999/x":    "",
		"https://metering.example.com:8443/x": "",
		"https://metering.example.com/x":      `host "metering.example.com" is not allowed: add it to [lua] http_allowed_hosts (allowed: hooks.example.com, metering.example.com:8443, [::1]:9000)`,
		"http://evil.example.com/x":           `host "evil.example.com" is not allowed`,
		"http://hooks.example.com.evil.org/x": `is not allowed`,
		"http://[::1]:9000/x":                 "",
		"http://[::1]:9001/x":                 `host "[::1]:9001" is not allowed`,
		"ftp://hooks.example.com/x":           `is not an http:// or https:// URL`,
		"hooks.example.com/x":                 `is not an http:// or https:// URL`,
	}
	files := map[string]string{}
	names := map[string]string{}
	i := 0
	for u := range cases {
		name := fmt.Sprintf("req%02d", i)
		i++
		names[u] = name
		files[name+".lua"] = luaTask(fmt.Sprintf(`local r, err = http.request{url = %q} assert(r, err)`, u))
	}
	f := newFixture(t, Options{Config: cfg, HTTP: doer}, files)
	for u, want := range cases {
		before := len(doer.reqs)
		res := f.run(nil, names[u])
		if want == "" {
			if res.Err != nil || len(doer.reqs) != before+1 {
				t.Errorf("%s: %v", u, res.Err)
			}
			continue
		}
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: error %v; want %q", u, res.Err, want)
		}
		if len(doer.reqs) != before {
			t.Errorf("%s: the Doer saw a refused request", u)
		}
	}
}

// smtpServer is a minimal SMTP server for the tests: it records messages
// and refuses recipients at refuse.example.
type smtpServer struct {
	ln    net.Listener
	mu    sync.Mutex
	mails []string
	rcpts []string
	mute  bool        // accept connections and never answer
	tls   *tls.Config // offer STARTTLS and AUTH PLAIN with it
	auth  []string    // decoded AUTH PLAIN credentials
	onTLS []bool      // whether each message came over TLS
}

func newSMTPServer(t *testing.T, mute bool) *smtpServer {
	return startSMTPServer(t, &smtpServer{mute: mute})
}

// startSMTPServer serves s on a fresh port of 127.0.0.1 until the test ends.
func startSMTPServer(t *testing.T, s *smtpServer) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	if s.mute {
		_, _ = io.Copy(io.Discard, conn)
		return
	}
	r := bufio.NewReader(conn)
	say := func(line string) { fmt.Fprintf(conn, "%s\r\n", line) }
	say("220 test.example ESMTP")
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO") && s.tls != nil:
			say("250-test.example")
			if !secure {
				say("250-STARTTLS")
			}
			say("250 AUTH PLAIN")
		case cmd == "STARTTLS":
			say("220 ready")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, r, secure = tc, bufio.NewReader(tc), true
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line[len("AUTH PLAIN"):]))
			s.mu.Lock()
			s.auth = append(s.auth, strings.ReplaceAll(string(b), "\x00", "|"))
			s.mu.Unlock()
			say("235 2.7.0 accepted")
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test.example")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO"):
			if strings.Contains(cmd, "REFUSE.EXAMPLE") {
				say("550 5.1.1 no such user")
				continue
			}
			s.mu.Lock()
			s.rcpts = append(s.rcpts, strings.TrimSpace(line[len("RCPT TO:"):]))
			s.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 go ahead")
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			s.mu.Lock()
			s.mails = append(s.mails, msg.String())
			s.onTLS = append(s.onTLS, secure)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func TestSMTP(t *testing.T) {
	srv := newSMTPServer(t, false)
	host, port, _ := net.SplitHostPort(srv.ln.Addr().String())
	cfg := conf.Defaults()
	cfg.SMTP = conf.SMTP{Host: host, From: "kaifuku@ops.example", Timeout: 2 * time.Second}
	fmt.Sscan(port, &cfg.SMTP.Port)
	f := newFixture(t, Options{Config: cfg}, map[string]string{
		"mail.lua": `return {
  provides = {"sent"},
  execute = function()
    local ok, err = smtp.send{to = {"ops@ops.example", "Oncall <oncall@ops.example>"}, cc = "boss@ops.example",
                              subject = "Host compute1 failed – évacuation", body = "line 1\nline 2"}
    assert(ok, err)
    return {sent = ok}
  end }`,
		"refused.lua": `return {
  provides = {"err"},
  execute = function()
    local ok, err = smtp.send{to = "nobody@refuse.example", subject = "x", body = "y"}
    assert(ok == nil)
    return {err = err}
  end }`,
		"badaddr.lua": luaTask(`smtp.send{to = "not an address", subject = "x", body = "y"}`),
		"norcpt.lua":  luaTask(`smtp.send{subject = "x", body = "y"}`),
		"inject.lua":  luaTask(`smtp.send{to = "a@b.example", subject = "x\r\nBcc: evil@x.example", body = "y"}`),
	})
	res := f.run(nil, "mail")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	srv.mu.Lock()
	if len(srv.mails) != 1 {
		t.Fatalf("mails %v", srv.mails)
	}
	m := srv.mails[0]
	srv.mu.Unlock()
	for _, want := range []string{"From: kaifuku@ops.example\r\n", "To: ops@ops.example, oncall@ops.example\r\n",
		"Cc: boss@ops.example\r\n", "Subject: =?utf-8?q?Host_compute1_failed_=E2=80=93_=C3=A9vacuation?=\r\n",
		"Content-Type: text/plain; charset=utf-8", "line 1\r\nline 2"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
	if got := strings.Join(srv.rcpts, " "); got != "<ops@ops.example> <oncall@ops.example> <boss@ops.example>" {
		t.Errorf("recipients %s", got)
	}
	res = f.run(nil, "refused")
	if res.Err != nil || !strings.Contains(res.Store["err"].(string), "RCPT TO nobody@refuse.example: 550") {
		t.Fatalf("refusal: %v %v", res.Err, res.Store["err"])
	}
	for name, want := range map[string]string{
		"badaddr": `smtp.send: to address "not an address": mail: `,
		"norcpt":  "smtp.send: no recipient",
		"inject":  "smtp.send: the subject must be one line",
	} {
		if res := f.run(nil, name); res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: %v; want %q", name, res.Err, want)
		}
	}
}

// TestSMTPStartTLSAndAuth: with starttls and a user, the mailer upgrades
// the connection, verifies the server and authenticates before sending.
func TestSMTPStartTLSAndAuth(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // borrowed for its certificate
	defer ts.Close()
	srv := startSMTPServer(t, &smtpServer{tls: &tls.Config{Certificates: ts.TLS.Certificates}})
	ln := srv.ln
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	m := &smtpMailer{cfg: conf.SMTP{Host: host, StartTLS: true, Username: "kaifuku", Password: "pw", Timeout: 5 * time.Second},
		tls: &tls.Config{RootCAs: roots, ServerName: host}}
	fmt.Sscan(port, &m.cfg.Port)
	if err := m.Send(context.Background(), Mail{From: "a@b.example", To: []string{"c@d.example"}, Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.mails) != 1 || !srv.onTLS[0] || strings.Join(srv.auth, ",") != "|kaifuku|pw" {
		t.Fatalf("mails %d, tls %v, auth %v", len(srv.mails), srv.onTLS, srv.auth)
	}
	// Without a trusted certificate the upgrade fails and nothing is sent.
	m.tls = nil
	if err := m.Send(context.Background(), Mail{From: "a@b.example", To: []string{"c@d.example"}}); err == nil ||
		!strings.Contains(err.Error(), "starttls") {
		t.Fatalf("%v", err)
	}
}

// TestSMTPTimeout: a server that never answers costs the [smtp] timeout.
func TestSMTPTimeout(t *testing.T) {
	srv := newSMTPServer(t, true)
	host, port, _ := net.SplitHostPort(srv.ln.Addr().String())
	m := &smtpMailer{cfg: conf.SMTP{Host: host, Timeout: 200 * time.Millisecond}}
	fmt.Sscan(port, &m.cfg.Port)
	start := time.Now()
	err := m.Send(context.Background(), Mail{From: "a@b.example", To: []string{"c@d.example"}})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
}

// fakeCloud is a tiny compute.Cloud for the cloud module.
type fakeCloud struct {
	compute.Cloud // nil: the module must not call anything else
	servers       []compute.Server
}

func (c *fakeCloud) GetServer(_ context.Context, id string) (compute.Server, error) {
	for _, s := range c.servers {
		if s.ID == id {
			return s, nil
		}
	}
	return compute.Server{}, fmt.Errorf("server %s: %w", id, compute.ErrNotFound)
}

func (c *fakeCloud) ListServers(_ context.Context, host string) ([]compute.Server, error) {
	var out []compute.Server
	for _, s := range c.servers {
		if s.Host == host {
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *fakeCloud) ListServices(_ context.Context, host, binary string) ([]compute.Service, error) {
	if host != "compute1" || binary != "nova-compute" {
		return nil, nil
	}
	return []compute.Service{{ID: "svc-1", Binary: "nova-compute", Host: "compute1", Status: "disabled", State: "down",
		ForcedDown: true, DisabledReason: "Masakari detected host failed."}}, nil
}

func TestCloud(t *testing.T) {
	cl := &fakeCloud{servers: []compute.Server{
		{ID: "s-1", Name: "vm1", Status: "ACTIVE", Host: "compute1", VMState: "active", PowerState: 1,
			Metadata: map[string]string{"HA_Enabled": "True", "owner_mail": "alice@example.com"}, TenantID: "t-1", UserID: "u-1"},
		{ID: "s-2", Name: "vm2", Status: "SHUTOFF", Host: "compute1", VMState: "stopped", PowerState: 4},
		{ID: "s-3", Name: "vm3", Status: "ACTIVE", Host: "compute2", VMState: "active"},
	}}
	f := newFixture(t, Options{Cloud: cl}, map[string]string{"look.lua": `return {
  provides = {"server", "names", "service", "missing", "none"},
  execute = function()
    local s = assert(cloud.get_server("s-1"))
    local names = {}
    for _, srv in ipairs(assert(cloud.list_servers{host = "compute1"})) do names[#names + 1] = srv.name end
    local svc = assert(cloud.get_service("compute1"))
    local nothing, err = cloud.get_server("nope")
    local _, err2 = cloud.get_service("compute9")
    return {server = s, names = names, service = svc, missing = {tostring(nothing), err}, none = err2}
  end }`})
	res := f.run(nil, "look")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	wantServer := map[string]any{"id": "s-1", "name": "vm1", "status": "ACTIVE", "host": "compute1", "hypervisor_hostname": "",
		"vm_state": "active", "power_state": 1.0, "locked": false, "tenant_id": "t-1", "user_id": "u-1",
		"metadata": map[string]any{"HA_Enabled": "True", "owner_mail": "alice@example.com"}}
	if d := cmp.Diff(wantServer, res.Store["server"]); d != "" {
		t.Errorf("server:\n%s", d)
	}
	if d := cmp.Diff([]any{"vm1", "vm2"}, res.Store["names"]); d != "" {
		t.Errorf("names: %s", d)
	}
	svc := res.Store["service"].(map[string]any)
	if svc["state"] != "down" || svc["status"] != "disabled" || svc["forced_down"] != true {
		t.Errorf("service %v", svc)
	}
	if d := cmp.Diff([]any{"nil", `cloud.get_server("nope"): server nope: not found`}, res.Store["missing"]); d != "" {
		t.Errorf("missing: %s", d)
	}
	if !strings.Contains(res.Store["none"].(string), "no nova-compute service on that host") {
		t.Errorf("none: %v", res.Store["none"])
	}

	// Without a cloud, calls raise a clear error.
	f = newFixture(t, Options{}, map[string]string{"look.lua": luaTask(`cloud.get_server("s-1")`)})
	if res := f.run(nil, "look"); res.Err == nil || !strings.Contains(res.Err.Error(), "cloud.get_server: no cloud is configured for Lua tasks") {
		t.Fatalf("%v", res.Err)
	}
}

func TestConfigHelpers(t *testing.T) {
	cfg := conf.Defaults()
	sec := conf.Section{Name: "cfg", Values: map[string]string{"url": "http://x/", "port": "8080", "on": "yes", "off": "false",
		"ratio": "0.5", "list": "a, b,,c", "bad_int": "eight", "bad_bool": "maybe"},
		KeyPos: map[string]conf.Pos{"bad_int": {File: "kaifuku.conf", Line: 12}}}
	cfg.Sections = map[string]conf.Section{"cfg": sec, "bad1": {Name: "bad1", Values: sec.Values, KeyPos: sec.KeyPos},
		"bad2": {Name: "bad2", Values: sec.Values}, "bad3": {Name: "bad3", Values: sec.Values}}
	f := newFixture(t, Options{Config: cfg}, map[string]string{
		"cfg.lua": `return {
  provides = {"v"},
  execute = function()
    return {v = {config.url, config.required("url"), config.int("port", 1), config.int("absent", 7), config.bool("on"),
                 config.bool("off", true), config.bool("absent", true), config.number("ratio"), config.list("list"), config.get("list"),
                 config.get("absent", "dflt"), config.list("absent", {"z"})}}
  end }`,
		"bad1.lua": luaTask(`config.int("bad_int")`),
		"bad2.lua": luaTask(`config.bool("bad_bool")`),
		"bad3.lua": luaTask(`config.required("smtp_to")`),
	})
	res := f.run(nil, "cfg")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []any{"http://x/", "http://x/", 8080.0, 7.0, true, false, true, 0.5, []any{"a", "b", "c"}, "a, b,,c", "dflt", []any{"z"}}
	if d := cmp.Diff(want, res.Store["v"]); d != "" {
		t.Error(d)
	}
	for name, msg := range map[string]string{
		"bad1": `scripts/bad1.lua:3: config: [bad1] bad_int = "eight" (kaifuku.conf:12) is not an integer`,
		"bad2": `scripts/bad2.lua:3: config: [bad2] bad_bool = "maybe" is not a boolean`,
		"bad3": `scripts/bad3.lua:3: config: [bad3] smtp_to is required; set it in the [bad3] section of the configuration`,
	} {
		if res := f.run(nil, name); res.Err == nil || !strings.Contains(res.Err.Error(), msg) {
			t.Errorf("%s: %v; want %q", name, res.Err, msg)
		}
	}
}

// TestLogPrintProgressJSON covers the small modules.
func TestLogPrintProgressJSON(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"small.lua": `return {
  provides = {"decoded", "encoded", "bad", "time"},
  execute = function()
    log.debug("debugging", {n = 1})
    log.warn("careful", {host = "compute1", list = {1, 2}})
    log.error("bad thing")
    print("printed", 42, nil, true)
    progress("Half way", 0.5)
    progress("Done", 1)
    local v, err = json.decode('{"a":[1,2,{"b":null}],"c":{}}')
    local _, bad = json.decode('{"a":')
    return {decoded = v, encoded = json.encode({z = 1, a = {json.null, "x"}, e = json.array(), o = json.object()}), bad = bad,
            time = os.time() .. " " .. os.date("!%Y-%m-%dT%H:%M:%SZ")}
  end }`})
	res := f.run(nil, "small")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if d := cmp.Diff(map[string]any{"a": []any{1.0, 2.0, map[string]any{}}, "c": map[string]any{}}, res.Store["decoded"]); d != "" {
		t.Errorf("decoded: %s", d)
	}
	if res.Store["encoded"] != `{"a":[null,"x"],"e":[],"o":{},"z":1}` {
		t.Errorf("encoded %v", res.Store["encoded"])
	}
	if !strings.HasPrefix(res.Store["bad"].(string), "json.decode: ") {
		t.Errorf("bad %v", res.Store["bad"])
	}
	// os.time and os.date read the engine's (fake) clock.
	if res.Store["time"] != fmt.Sprintf("%d 2026-11-25T10:00:00Z", f.clock.Now().Unix()) {
		t.Errorf("time %v", res.Store["time"])
	}
	levels := map[string]string{}
	for _, e := range f.logs.AllEntries() {
		if e.Data["task"] == "small" && e.Data["notification_uuid"] == "n-1" {
			levels[e.Message] = e.Level.String()
			if e.Message == "careful" && (e.Data["host"] != "compute1" || e.Data["list"] != "[1,2]") {
				t.Errorf("fields %v", e.Data)
			}
		}
	}
	if d := cmp.Diff(map[string]string{"debugging": "debug", "careful": "warning", "bad thing": "error",
		"printed\t42\tnil\ttrue": "info", "task started": "debug", "task succeeded": "info"}, levels); d != "" {
		t.Errorf("log entries: %s", d)
	}
	details := res.Tasks[0].Details
	if len(details) != 2 || details[0].Message != "Half way" || details[0].Progress != 0.5 || details[1].Progress != 1 {
		t.Errorf("progress %+v", details)
	}
}

// TestRequire: modules come from lib/ and run once per task execution, so
// a module's state does not carry over to the next task.
func TestRequire(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{
		"lib/counter.lua": `local M = {n = 0} function M.bump() M.n = M.n + 1 return M.n end return M`,
		"lib/loop.lua":    `return require("loop")`,
		"a.lua": `local c = require("counter") local same = require("counter")
return { provides = {"a"}, execute = function() c.bump() return {a = same.bump()} end }`,
		"b.lua":    `return { provides = {"b"}, execute = function() return {b = require("counter").bump()} end }`,
		"loop.lua": luaTask(`require("loop")`),
	})
	res := f.run(nil, "a", "b")
	if res.Err != nil || res.Store["a"] != 2.0 || res.Store["b"] != 1.0 {
		t.Fatalf("%v %v %v", res.Err, res.Store["a"], res.Store["b"])
	}
	if res := f.run(nil, "loop"); res.Err == nil || !strings.Contains(res.Err.Error(), `module "loop" requires itself`) {
		t.Fatalf("%v", res.Err)
	}
}

// TestExecuteWithoutRunner: a task can run with engine.NewEnv (no per-run
// sharing); its state then goes back to the pool after the task.
func TestExecuteWithoutRunner(t *testing.T) {
	specs, err := Load(Options{Dir: writeScripts(t, map[string]string{
		"x.lua": `return { requires = {"a"}, provides = {"b"}, execute = function(s) return {b = s.a * 2} end }`,
	})})
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := specs[0].New(conf.Section{})
	f := newFixture(t, Options{}, nil)
	env := engine.NewEnv("n", "x", f.clock, f.runner.Log.WithField("task", "x"), nil)
	for i := 0; i < 3; i++ {
		out, err := tk.Execute(context.Background(), env, engine.Store{"a": 21.0})
		if err != nil || out["b"] != 42.0 {
			t.Fatalf("%v %v", out, err)
		}
	}
}
