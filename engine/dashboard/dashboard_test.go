package dashboard

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/api"
	"github.com/kaifuku-ha/kaifuku/engine/db"
)

const (
	adminToken  = "admin-token-0123"
	memberToken = "member-token-4567"
)

// fixture is the dashboard mounted as kaifuku serve mounts it, on a real
// API server and a SQLite store with one segment and two hosts, compute1
// on maintenance.
type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	store   *db.DB
	api     *api.Server
	segment db.Segment
	host    db.Host // compute1, on maintenance
	spare   db.Host // compute2, reserved
}

func newFixture(t *testing.T, strategy string, flows func() map[conf.FlowKind]*engine.Flow) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "dash.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := logrus.New()
	log.SetOutput(io.Discard)
	a, err := api.New(store, func(context.Context, string) (bool, error) { return true, nil }, log,
		api.Settings{AuthStrategy: strategy, Tokens: map[string]string{adminToken: "admin", memberToken: "member"}})
	if err != nil {
		t.Fatal(err)
	}
	a.Extra[Prefix] = New(Options{API: a, Flows: flows, Log: log})
	f := &fixture{t: t, store: store, api: a}
	f.srv = httptest.NewServer(Root(a))
	t.Cleanup(f.srv.Close)
	if f.segment, err = store.CreateSegment(ctx, db.Segment{Name: "rack-a", RecoveryMethod: "auto", ServiceType: "compute", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if f.host, err = store.CreateHost(ctx, f.segment.UUID, db.Host{Name: "compute1", Type: "COMPUTE", ControlAttributes: "SSH", OnMaintenance: true}); err != nil {
		t.Fatal(err)
	}
	if f.spare, err = store.CreateHost(ctx, f.segment.UUID, db.Host{Name: "compute2", Type: "COMPUTE", ControlAttributes: "SSH", Reserved: true}); err != nil {
		t.Fatal(err)
	}
	return f
}

// browser is a client that keeps cookies and does not follow redirects.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func (f *fixture) do(c *http.Client, method, path string, form url.Values, header ...string) (*http.Response, string) {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login logs c in with token and returns the page's CSRF token.
func (f *fixture) login(c *http.Client, token string) string {
	f.t.Helper()
	resp, body := f.do(c, "POST", Prefix+"login", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != Prefix {
		f.t.Fatalf("login: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = f.do(c, "GET", Prefix+"segments", nil)
	if resp.StatusCode != 200 {
		f.t.Fatalf("segments after login: %d %s", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("no CSRF token on the segments page:\n%s", body)
	}
	return m[1]
}

func (f *fixture) storedHost(id string) db.Host {
	f.t.Helper()
	h, err := f.store.Host(context.Background(), f.segment.UUID, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func TestPrefersHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"": false, "*/*": false, "application/json": false, "application/json, */*": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8": true,
		"text/html":                         true,
		"text/*":                            true,
		"application/json, text/html;q=0.5": false,
		"text/html;q=0, */*":                false,
		"bogus;;;":                          false,
	} {
		if got := PrefersHTML(accept); got != want {
			t.Errorf("PrefersHTML(%q) = %v, want %v", accept, got, want)
		}
	}
}

// API clients keep getting the versions document at /, byte for byte as
// the API alone serves it; a browser is sent to the dashboard.
func TestRootServesAPIClientsAndRedirectsBrowsers(t *testing.T) {
	f := newFixture(t, "token", nil)
	direct := httptest.NewServer(f.api)
	defer direct.Close()
	c := f.browser()
	for _, accept := range []string{"", "*/*", "application/json"} {
		resp, body := f.do(c, "GET", "/", nil, "Accept", accept)
		req, _ := http.NewRequest("GET", direct.URL+"/", nil)
		req.Header.Set("Accept", accept)
		req.Host = strings.TrimPrefix(f.srv.URL, "http://")
		dr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(dr.Body)
		dr.Body.Close()
		if resp.StatusCode != 200 || body != string(want) || !strings.Contains(body, `"versions"`) {
			t.Errorf("GET / with Accept %q: %d %s, want the API's %s", accept, resp.StatusCode, body, want)
		}
	}
	resp, _ := f.do(c, "GET", "/", nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != Prefix {
		t.Errorf("browser GET /: %d to %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), Prefix)
	}
	resp, _ = f.do(c, "GET", "/dashboard", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != Prefix {
		t.Errorf("GET /dashboard: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPagesNeedALogin(t *testing.T) {
	f := newFixture(t, "token", nil)
	c := f.browser()
	for _, p := range []string{"", "segments", "flows", "notifications/" + f.host.UUID} {
		resp, _ := f.do(c, "GET", Prefix+p, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != Prefix+"login" {
			t.Errorf("GET %s%s without a login: %d to %q, want 303 to the login form", Prefix, p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := f.do(c, "GET", Prefix+"login", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `<label for="token">`) || !strings.Contains(body, `type="password"`) {
		t.Errorf("login form: %d\n%s", resp.StatusCode, body)
	}
}

func TestLoginSetsAStrictHttpOnlyCookie(t *testing.T) {
	f := newFixture(t, "token", nil)
	c := f.browser()
	resp, body := f.do(c, "POST", Prefix+"login", url.Values{"token": {adminToken}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); strings.Contains(loc, adminToken) || loc != Prefix {
		t.Errorf("redirect after login to %q", loc)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies: %v", cookies)
	}
	ck := cookies[0]
	if ck.Name != cookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != Prefix || ck.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=%s (not Secure without TLS)", ck, Prefix)
	}
	raw := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
	resp, body = f.do(c, "GET", Prefix+"segments", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "compute1") || !strings.Contains(body, "rack-a") {
		t.Errorf("segments after login: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, adminToken) {
		t.Errorf("the page shows the token")
	}
	// Log out: the cookie is dropped and the pages ask for a login again.
	csrf := f.login(c, adminToken)
	resp, _ = f.do(c, "POST", Prefix+"logout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp, _ = f.do(c, "GET", Prefix+"segments", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("segments after logout: %d", resp.StatusCode)
	}
}

func TestLoginRefusesABadToken(t *testing.T) {
	f := newFixture(t, "token", nil)
	for token, want := range map[string]string{"wrong": "refused", memberToken: "admin role"} {
		c := f.browser()
		resp, body := f.do(c, "POST", Prefix+"login", url.Values{"token": {token}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, want) {
			t.Errorf("login with %q: %d, want 403 saying %q\n%s", token, resp.StatusCode, want, body)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("login with %q set %v", token, resp.Cookies())
		}
		if strings.Contains(body, token) {
			t.Errorf("the refusal shows the token")
		}
	}
	// A cookie with a token the API no longer accepts leads to the form.
	c := f.browser()
	u, _ := url.Parse(f.srv.URL + Prefix)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: "d3Jvbmc", Path: Prefix}})
	resp, _ := f.do(c, "GET", Prefix+"segments", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != Prefix+"login" {
		t.Errorf("a refused cookie: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A member token's cookie gets the API's 403.
	c = f.browser()
	c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: "bWVtYmVyLXRva2VuLTQ1Njc", Path: Prefix}})
	resp, body := f.do(c, "GET", Prefix+"segments", nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "os_masakari_api:segments:index") {
		t.Errorf("a member's cookie: %d\n%s", resp.StatusCode, body)
	}
}

func TestActionsNeedTheCSRFTokenAndAConfirmation(t *testing.T) {
	f := newFixture(t, "token", nil)
	c := f.browser()
	csrf := f.login(c, adminToken)
	path := Prefix + "segments/" + f.segment.UUID + "/hosts/" + f.host.UUID + "/maintenance"

	for name, form := range map[string]url.Values{
		"no token":    {"value": {"false"}, "confirm": {"yes"}},
		"wrong token": {"value": {"false"}, "confirm": {"yes"}, "csrf": {"x" + csrf}},
	} {
		resp, body := f.do(c, "POST", path, form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "reload the page") {
			t.Errorf("%s: %d, want 403\n%s", name, resp.StatusCode, body)
		}
	}
	// Another session's CSRF token is refused too.
	other := New(Options{API: f.api, Secret: []byte("another secret")})
	resp, _ := f.do(c, "POST", path, url.Values{"value": {"false"}, "confirm": {"yes"}, "csrf": {other.csrfToken(adminToken)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another dashboard's token: %d", resp.StatusCode)
	}
	// A form posted by another site is refused even with the token.
	resp, _ = f.do(c, "POST", path, url.Values{"value": {"false"}, "confirm": {"yes"}, "csrf": {csrf}}, "Origin", "http://evil.example")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin post: %d", resp.StatusCode)
	}
	if !f.storedHost(f.host.UUID).OnMaintenance {
		t.Fatal("a refused form changed the host")
	}

	// The first post asks for confirmation and changes nothing.
	resp, body := f.do(c, "POST", path, url.Values{"value": {"false"}, "csrf": {csrf}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Take host compute1 off maintenance?") ||
		!strings.Contains(body, `name="confirm" value="yes"`) || !strings.Contains(body, `name="value" value="false"`) {
		t.Fatalf("confirmation: %d\n%s", resp.StatusCode, body)
	}
	if !f.storedHost(f.host.UUID).OnMaintenance {
		t.Fatal("asking for confirmation changed the host")
	}
	resp, body = f.do(c, "POST", path, url.Values{"value": {"false"}, "csrf": {csrf}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), Prefix+"segments?done=maintenance-off") {
		t.Fatalf("confirmed: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if f.storedHost(f.host.UUID).OnMaintenance {
		t.Error("the host is still on maintenance")
	}
	_, body = f.do(c, "GET", resp.Header.Get("Location"), nil)
	if !strings.Contains(body, "The host is off maintenance.") {
		t.Errorf("no note of the action:\n%s", body)
	}

	// Reserved and segment enabled, through the API.
	resp, _ = f.do(c, "POST", Prefix+"segments/"+f.segment.UUID+"/hosts/"+f.spare.UUID+"/reserved",
		url.Values{"value": {"false"}, "csrf": {csrf}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || f.storedHost(f.spare.UUID).Reserved {
		t.Errorf("unreserve: %d", resp.StatusCode)
	}
	resp, _ = f.do(c, "POST", Prefix+"segments/"+f.segment.UUID+"/enabled", url.Values{"value": {"false"}, "csrf": {csrf}, "confirm": {"yes"}})
	sg, err := f.store.Segment(context.Background(), f.segment.UUID)
	if resp.StatusCode != http.StatusSeeOther || err != nil || sg.Enabled {
		t.Errorf("disable segment: %d %v enabled=%v", resp.StatusCode, err, sg.Enabled)
	}
}

// The API's validation is the dashboard's: its refusals are shown with
// the API's status and message.
func TestActionsShowTheAPIsRefusal(t *testing.T) {
	f := newFixture(t, "token", nil)
	c := f.browser()
	csrf := f.login(c, adminToken)
	resp, body := f.do(c, "POST", Prefix+"segments/"+f.segment.UUID+"/hosts/"+f.host.UUID+"/maintenance", url.Values{"value": {"maybe"}, "csrf": {csrf}})
	if resp.StatusCode != 400 || !strings.Contains(body, "value must be true or false") {
		t.Errorf("bad value: %d\n%s", resp.StatusCode, body)
	}
	missing := "00000000-0000-4000-8000-000000000000"
	resp, body = f.do(c, "POST", Prefix+"segments/"+f.segment.UUID+"/hosts/"+missing+"/reserved", url.Values{"value": {"true"}, "csrf": {csrf}})
	if resp.StatusCode != 404 || !strings.Contains(body, missing) {
		t.Errorf("unknown host: %d\n%s", resp.StatusCode, body)
	}
	// A host that a running notification uses cannot be updated (409).
	ctx := context.Background()
	if _, err := f.store.UpdateHost(ctx, f.segment.UUID, f.host.UUID, db.HostPatch{OnMaintenance: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateNotification(ctx, db.NewNotification{Type: "COMPUTE_HOST", Hostname: "compute1", GeneratedTime: time.Now(),
		Payload: []byte(`{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "ONLINE"}`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	resp, body = f.do(c, "POST", Prefix+"segments/"+f.segment.UUID+"/hosts/"+f.host.UUID+"/reserved", url.Values{"value": {"true"}, "csrf": {csrf}, "confirm": {"yes"}})
	if resp.StatusCode != 409 || !strings.Contains(body, "in-use to process notifications") {
		t.Errorf("host in use: %d\n%s", resp.StatusCode, body)
	}
}

func TestNotificationPages(t *testing.T) {
	f := newFixture(t, "noauth", nil)
	ctx := context.Background()
	if _, err := f.store.UpdateHost(ctx, f.segment.UUID, f.host.UUID, db.HostPatch{OnMaintenance: new(bool)}); err != nil {
		t.Fatal(err)
	}
	n, err := f.store.CreateNotification(ctx, db.NewNotification{Type: "COMPUTE_HOST", Hostname: "compute1", GeneratedTime: time.Now(),
		Payload: []byte(`{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "ONLINE"}`)}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := f.browser()
	// noauth: no login needed, as for the API.
	resp, body := f.do(c, "GET", Prefix, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, n.UUID) || !strings.Contains(body, `data-live="true"`) {
		t.Errorf("list: %d\n%s", resp.StatusCode, body)
	}
	_, body = f.do(c, "GET", Prefix+"?status=finished&type=COMPUTE_HOST", nil)
	if strings.Contains(body, n.UUID) || strings.Contains(body, `data-live="true"`) || !strings.Contains(body, `<option value="finished" selected>`) {
		t.Errorf("filtered list shows the new notification:\n%s", body)
	}
	_, body = f.do(c, "GET", Prefix+"?status=new", nil)
	if !strings.Contains(body, n.UUID) {
		t.Errorf("status filter lost the notification:\n%s", body)
	}
	resp, body = f.do(c, "GET", Prefix+"notifications/"+n.UUID, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "&#34;host_status&#34;: &#34;NORMAL&#34;") || !strings.Contains(body, "No task has reported progress yet.") {
		t.Errorf("notification: %d\n%s", resp.StatusCode, body)
	}
	resp, body = f.do(c, "GET", Prefix+"notifications/not-a-uuid", nil)
	if resp.StatusCode != 404 || !strings.Contains(body, "No notification with id not-a-uuid.") {
		t.Errorf("unknown notification: %d\n%s", resp.StatusCode, body)
	}
}

func TestFlowsPage(t *testing.T) {
	flow := &engine.Flow{Kind: conf.FlowHostAuto}
	flow.Phases[conf.Main] = []engine.FlowTask{
		{Spec: engine.Spec{Name: "disable_compute_service_task", Kind: "go", Requires: []string{"host_name"}, Provides: []string{"instance_list"}}, Phase: conf.Main},
		{Spec: engine.Spec{Name: "notify", Kind: "lua", Source: "scripts/notify.lua", Requires: []string{"instance_list"}}, Phase: conf.Main},
	}
	f := newFixture(t, "noauth", func() map[conf.FlowKind]*engine.Flow { return map[conf.FlowKind]*engine.Flow{conf.FlowHostAuto: flow} })
	resp, body := f.do(f.browser(), "GET", Prefix+"flows", nil)
	for _, want := range []string{"host_auto_failure_recovery_tasks", "Masakari&#39;s default", "disable_compute_service_task", "[built-in]",
		"[Lua scripts/notify.lua]", "requires <span class=\"mono\">instance_list</span> ← disable_compute_service_task",
		"requires <span class=\"mono\">host_name</span> ← initial store", "provides <span class=\"mono\">instance_list</span>"} {
		if !strings.Contains(body, want) {
			t.Errorf("flows page lacks %q", want)
		}
	}
	if resp.StatusCode != 200 || t.Failed() {
		t.Logf("%d\n%s", resp.StatusCode, body)
	}
}

func TestTimeline(t *testing.T) {
	tasks := []taskDetail{
		{Name: "DisableComputeServiceTask", State: "SUCCESS", Progress: 1, ProgressDetails: []progressDetail{
			{Timestamp: "2024-01-01 10:00:00", Message: "Disabling"}, {Timestamp: "2024-01-01 10:00:01", Message: "Disabled"}}},
		{Name: "EvacuateInstancesTask", State: "RUNNING", Progress: 0.5, ProgressDetails: []progressDetail{
			{Timestamp: "2024-01-01 10:00:01.500000", Message: "Evacuating"}}},
	}
	now := time.Date(2024, 1, 1, 10, 0, 4, 0, time.UTC)
	tl := buildTimeline(tasks, true, now)
	if len(tl.Bars) != 2 || tl.Span != "4s" {
		t.Fatalf("timeline %+v", tl)
	}
	if b := tl.Bars[0]; b.Left != "0%" || b.Width != "25%" || b.Class != "ok" || b.Duration != "1s" {
		t.Errorf("first bar %+v", b)
	}
	// The running task reaches now.
	if b := tl.Bars[1]; b.Left != "37.5%" || b.Width != "62.5%" || b.Class != "run" {
		t.Errorf("running bar %+v", b)
	}
	// Once finished, the axis ends at the last entry; a single entry still
	// gets a visible bar.
	tasks[1].State = "FAILURE"
	tl = buildTimeline(tasks, false, now)
	if b := tl.Bars[1]; b.Left != "99%" || b.Width != "1%" || b.Class != "bad" {
		t.Errorf("failed bar %+v", b)
	}
	if len(buildTimeline(nil, false, now).Bars) != 0 {
		t.Error("bars without tasks")
	}
}
