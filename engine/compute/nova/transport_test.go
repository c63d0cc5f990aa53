package nova_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// A burst of requests as many as the engine sends at once reuses the
// connections the previous burst opened, instead of dialling Nova again.
func TestBurstsReuseConnections(t *testing.T) {
	const parallel = 32
	f := fixture()
	f.Latency.API = 30 // every request overlaps the others of its burst
	cloud, err := simulated.New(f, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(simcloud.New(cloud, simcloud.Options{Tokens: []string{staticToken}}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: srv.URL + "/v2.1", Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	burst := func() int64 {
		before := opened.Load()
		var wg sync.WaitGroup
		errs := make(chan error, parallel)
		for range parallel {
			wg.Go(func() {
				if _, err := c.GetServer(ctx, srvA); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		return opened.Load() - before
	}
	first := burst()
	if first < parallel/2 {
		t.Fatalf("the first burst of %d requests opened %d connections: the requests did not overlap", parallel, first)
	}
	for i := range 3 {
		if n := burst(); n > 2 {
			t.Errorf("burst %d of %d requests opened %d connections after the first opened %d", i+2, parallel, n, first)
		}
	}
}

// The driver's requests tell the pool of clock.Each they wait for Nova: a
// host's evacuations run in parallel while Nova answers, here four calls that
// each wait until Nova holds all four.
func TestRequestsLetEachRunTheNextCallMeanwhile(t *testing.T) {
	const parallel = 4
	cloud, err := simulated.New(fixture(), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	api := simcloud.New(cloud, simcloud.Options{Tokens: []string{staticToken}})
	var mu sync.Mutex
	held := 0
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if held++; held == parallel {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: srv.URL + "/v2.1", Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	clock.Each(ctx, clock.Real{}, parallel, parallel, nil, func(ctx context.Context, i int) {
		if _, err := c.GetServer(ctx, srvA); err != nil {
			t.Error(err)
		}
	})
	if d := time.Since(began); d > 4*time.Second {
		t.Fatalf("%d calls took %s: they ran one after another", parallel, d)
	}
}
