package daemon_test

// Against a real Keystone: the Keystone bed (a real Keystone on loopback
// with users admin, kaifuku, monitor, demo and reader), which testbed.Keystone
// finds: KAIFUKU_KEYSTONEBED_URL is its identity endpoint (default
// http://127.0.0.1:5001/v3). Outside CI the tests skip when it does not
// answer; with CI=true they fail.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

// keystoneBed is the bed's identity endpoint; without the bed the test
// skips, or fails with CI=true.
var keystoneBed = testbed.Keystone

// bedAuth is the [keystone_authtoken] section of a daemon behind the bed,
// as the service user kaifuku, validating at authURL; a loaded bed may take
// seconds per validation.
func bedAuth(bed, authURL string) string {
	return fmt.Sprintf(`[keystone_authtoken]
www_authenticate_uri = %s
auth_url = %s
auth_type = password
username = kaifuku
password = kaifuku-secret
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
http_connect_timeout = 60
`, bed, authURL)
}

// bedToken logs in as a bed user and returns the token.
func bedToken(t *testing.T, authURL, user, password, project string) string {
	t.Helper()
	pc, err := openstack.NewClient(authURL)
	if err != nil {
		t.Fatal(err)
	}
	ao := gophercloud.AuthOptions{IdentityEndpoint: authURL, Username: user, Password: password, DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: project, DomainName: "Default"}}
	if err := openstack.AuthenticateV3(context.Background(), pc, &ao, gophercloud.EndpointOpts{}); err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	return pc.Token()
}

// proxy forwards TCP to Keystone until cut: then connections are refused,
// as with a Keystone that is down.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, addr: fmt.Sprintf("127.0.0.1:%d", daemontest.FreePort(t))}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				k, err := net.Dial("tcp", p.target)
				if err != nil {
					return
				}
				defer k.Close()
				go io.Copy(k, c)
				io.Copy(c, k)
			}()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

type answer struct {
	code   int
	body   string
	header http.Header
}

func as(t *testing.T, r *daemontest.Daemon, token, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, r.URL+path, rd)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(data), resp.Header}
}

func TestKeystoneBed(t *testing.T) {
	bed := keystoneBed(t)
	target := strings.TrimPrefix(strings.TrimSuffix(bed, "/v3"), "http://")
	px := newProxy(t, target)
	e := newEnv(t, 10, bedAuth(bed, "http://"+px.addr+"/v3")+`memcached_servers = 127.0.0.1:11211
[api]
accept_token_file = true
`)
	r := e.Start(t)
	r.HTTP.Timeout = time.Minute // a loaded Keystone bed may take seconds per validation
	admin := bedToken(t, bed, "admin", "admin-secret", "admin")
	demo := bedToken(t, bed, "demo", "demo-secret", "demo")
	reader := bedToken(t, bed, "reader", "reader-secret", "demo")
	monitor := bedToken(t, bed, "monitor", "monitor-secret", "service")

	if a := as(t, r, admin, "GET", "/v1/segments", ""); a.code != 200 {
		t.Fatalf("admin: %d %s", a.code, a.body)
	}
	for name, tok := range map[string]string{"member": demo, "reader": reader} {
		a := as(t, r, tok, "GET", "/v1/segments", "")
		if a.code != 403 || a.body != `{"forbidden":{"code":403,"message":"Policy doesn't allow os_masakari_api:segments:index to be performed."}}` {
			t.Errorf("%s: %d %s", name, a.code, a.body)
		}
	}
	for name, tok := range map[string]string{"garbage": "gAAAAABgarbage-not-a-fernet-token", "none": ""} {
		a := as(t, r, tok, "POST", "/v1/notifications", `{}`)
		if a.code != 401 || a.header.Get("WWW-Authenticate") != `Keystone uri="`+bed+`"` ||
			a.body != `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}` ||
			a.header.Get("OpenStack-API-Version") != "" {
			t.Errorf("%s token: %d %v %s", name, a.code, a.header, a.body)
		}
	}
	if a := as(t, r, r.Token, "GET", "/v1/segments", ""); a.code != 200 {
		t.Errorf("token file's token: %d %s", a.code, a.body)
	}
	if !strings.Contains(r.Log.String(), "[keystone_authtoken]: kaifuku does not use memcached_servers") {
		t.Errorf("unused options not named:\n%s", r.Log)
	}

	// Keystone goes away: confirmed tokens and the token file keep
	// working, a token never seen gets keystonemiddleware's 503.
	px.down()
	seg := `{"segment": {"name": "during-outage", "service_type": "COMPUTE", "recovery_method": "auto"}}`
	if a := as(t, r, admin, "POST", "/v1/segments", seg); a.code != 201 {
		t.Errorf("cached admin token during the outage: %d %s", a.code, a.body)
	}
	if a := as(t, r, monitor, "GET", "/v1/segments", ""); a.code != 503 || !strings.Contains(a.body, "The Keystone service is temporarily unavailable.") {
		t.Errorf("new token during the outage: %d %s", a.code, a.body)
	}
	if a := as(t, r, r.Token, "GET", "/v1/segments", ""); a.code != 200 || !strings.Contains(a.body, "during-outage") {
		t.Errorf("token file during the outage: %d %s", a.code, a.body)
	}
	time.Sleep(2 * time.Second)
	px.up()
	start := time.Now()
	if a := as(t, r, monitor, "GET", "/v1/segments", ""); a.code != 200 {
		t.Errorf("after the outage: %d %s (%s)", a.code, a.body, time.Since(start))
	}

	// A policy file read on SIGHUP lets readers look, not change.
	pol := "\"reader_api\": \"role:reader or rule:admin_api\"\n\"os_masakari_api:segments:index\": \"rule:reader_api\"\n"
	if err := os.WriteFile(filepath.Join(e.Dir, "policy.yaml"), []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.D.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := as(t, r, reader, "GET", "/v1/segments", ""); a.code != 200 {
		t.Errorf("reader with the policy file: %d %s", a.code, a.body)
	}
	if a := as(t, r, reader, "POST", "/v1/segments", seg); a.code != 403 {
		t.Errorf("reader creating: %d %s", a.code, a.body)
	}
	// A broken policy file keeps the running one.
	if err := os.WriteFile(filepath.Join(e.Dir, "policy.yaml"), []byte("\"x\": \"rule:nope\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.D.Reload(); err == nil || !strings.Contains(err.Error(), "rule:nope names no rule") {
		t.Errorf("broken policy: %v", err)
	}
	if a := as(t, r, reader, "GET", "/v1/segments", ""); a.code != 200 {
		t.Errorf("reader after a failed reload: %d %s", a.code, a.body)
	}
}
