package keystone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// fakeKeystone answers as Keystone does: 201 with X-Subject-Token for the
// login, 200 with the token body or 404 for a validation.
type fakeKeystone struct {
	srv       *httptest.Server
	validates atomic.Int32
	expires   time.Time
	down      atomic.Bool
}

func newFake(t *testing.T, expires time.Time) *fakeKeystone {
	f := &fakeKeystone{expires: expires}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		body := fmt.Sprintf(`{"token": {"expires_at": %q, "user": {"id": "u1", "name": "demo", "domain": {"id": "default"}},
			"project": {"id": "p1", "name": "demo", "domain": {"id": "default"}}, "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}]}}`,
			f.expires.UTC().Format("2006-01-02T15:04:05.000000Z"))
		switch {
		case r.Method == "POST" && r.URL.Path == "/v3/auth/tokens":
			w.Header().Set("X-Subject-Token", "service-token")
			w.WriteHeader(201)
			w.Write([]byte(body))
		case r.Method == "GET" && r.URL.Path == "/v3/auth/tokens":
			f.validates.Add(1)
			if r.Header.Get("X-Auth-Token") != "service-token" {
				w.WriteHeader(401)
				return
			}
			if r.Header.Get("X-Subject-Token") != "good" {
				w.WriteHeader(404)
				w.Write([]byte(`{"error": {"code": 404, "message": "Could not recognize Fernet token", "title": "Not Found"}}`))
				return
			}
			w.Header().Set("X-Subject-Token", "good")
			w.Write([]byte(body))
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newValidator(t *testing.T, f *fakeKeystone, clk *fakeClock, cache time.Duration) *Validator {
	v, err := New(conf.Keystone{AuthURL: f.srv.URL + "/v3", Username: "kaifuku", Password: "pw", ProjectName: "service",
		UserDomainName: "Default", ProjectDomainName: "Default", TokenCacheTime: cache, HTTPConnectTimeout: 5 * time.Second}, nil, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCache(t *testing.T) {
	start := time.Now()
	clk := &fakeClock{t: start}
	f := newFake(t, start.Add(time.Hour))
	v := newValidator(t, f, clk, 5*time.Minute)
	ctx := context.Background()
	id, err := v.Validate(ctx, "good")
	if err != nil || id.UserID != "u1" || id.ProjectID != "p1" || len(id.Roles) != 2 || id.Roles[1] != "reader" {
		t.Fatalf("good: %+v %v", id, err)
	}
	if _, err := v.Validate(ctx, "good"); err != nil || f.validates.Load() != 1 {
		t.Fatalf("a cached token must not be asked again: %v, %d asks", err, f.validates.Load())
	}
	clk.add(5*time.Minute + time.Second)
	if _, err := v.Validate(ctx, "good"); err != nil || f.validates.Load() != 2 {
		t.Fatalf("after token_cache_time it is asked again: %v, %d asks", err, f.validates.Load())
	}
	// Refused tokens are remembered briefly.
	for range 3 {
		if _, err := v.Validate(ctx, "bad"); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("bad: %v", err)
		}
	}
	if f.validates.Load() != 3 {
		t.Fatalf("bad token asked %d times, want once", f.validates.Load()-2)
	}
	clk.add(NegativeCacheTime + time.Second)
	v.Validate(ctx, "bad")
	if f.validates.Load() != 4 {
		t.Fatal("a refused token must be asked again after the negative cache time")
	}
	// Keystone down: the confirmed token stays valid until it expires,
	// others are unavailable.
	f.down.Store(true)
	clk.add(10 * time.Minute)
	if _, err := v.Validate(ctx, "good"); err != nil {
		t.Fatalf("confirmed token during an outage: %v", err)
	}
	if _, err := v.Validate(ctx, "other"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("new token during an outage: %v", err)
	}
	clk.add(time.Hour)
	if _, err := v.Validate(ctx, "good"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("an expired token during an outage: %v", err)
	}
	if _, err := v.Validate(ctx, ""); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("no token: %v", err)
	}
}

// The cache never outlives the token, and -1 disables it.
func TestCacheBounds(t *testing.T) {
	start := time.Now()
	clk := &fakeClock{t: start}
	f := newFake(t, start.Add(30*time.Second))
	v := newValidator(t, f, clk, 5*time.Minute)
	ctx := context.Background()
	v.Validate(ctx, "good")
	clk.add(31 * time.Second)
	if _, err := v.Validate(ctx, "good"); !errors.Is(err, ErrInvalidToken) || f.validates.Load() != 2 {
		t.Fatalf("expired token: %v, %d asks", err, f.validates.Load())
	}
	f2 := newFake(t, start.Add(time.Hour))
	v2 := newValidator(t, f2, &fakeClock{t: start}, -time.Second)
	v2.Validate(ctx, "good")
	v2.Validate(ctx, "good")
	if f2.validates.Load() != 2 {
		t.Fatalf("token_cache_time -1: %d asks, want 2", f2.validates.Load())
	}
}

func TestBadLoginIsUnavailableWithoutThePassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Keystone uri="x"`)
		w.WriteHeader(401)
		w.Write([]byte(`{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}`))
	}))
	defer srv.Close()
	v, err := New(conf.Keystone{AuthURL: srv.URL + "/v3", Username: "kaifuku", Password: "s3cret-pw", UserDomainName: "Default"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(context.Background(), "tok")
	if !errors.Is(err, ErrUnavailable) || !contains(err.Error(), "check [keystone_authtoken] username") || contains(err.Error(), "s3cret-pw") {
		t.Fatalf("bad login: %v", err)
	}
	if _, err := New(conf.Keystone{}, nil, nil); err == nil {
		t.Fatal("no auth_url must be refused")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
