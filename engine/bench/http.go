package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// simcloudPassword is the only password the bench's simcloud accepts: the
// driver logs in with it, as it would to a real Keystone.
const simcloudPassword = "bench"

// simcloudStartTimeout bounds how long a simcloud process may take to say
// where it listens.
const simcloudStartTimeout = 30 * time.Second

// served is a simcloud serving the case's cloud, in this process or in a
// process of its own.
type served struct {
	url  string
	stop func() (cpu time.Duration, err error) // ends it; cpu: its process's, when apart
	// apart is true when the server runs in a process of its own.
	apart bool
	// control reads /sim/ endpoints: a client of its own, so that its
	// requests share nothing with the driver's.
	control *http.Client
}

// serveInProcess serves fx with simcloud on a loopback listener of this
// process.
func serveInProcess(fx simulated.Fixture) (*served, error) {
	cloud, err := simulated.New(fx, clock.Real{})
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simcloud listener: %w", err)
	}
	srv := &http.Server{
		Handler:           simcloud.New(cloud, simcloud.Options{Password: simcloudPassword}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return &served{
		url:     "http://" + ln.Addr().String(),
		control: &http.Client{Timeout: time.Minute},
		stop: func() (time.Duration, error) {
			// The run is over, so no request is in flight; Close rather than
			// Shutdown, which would wait up to 5 s for the connections the
			// driver's pool dialled but never used.
			if err := srv.Close(); err != nil {
				return 0, fmt.Errorf("simcloud close: %w", err)
			}
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return 0, fmt.Errorf("simcloud: %w", err)
			}
			return 0, nil
		},
	}, nil
}

// listening is the line `kaifuku simcloud` prints once it listens.
var listening = regexp.MustCompile(`^simcloud: serving .* on http://(\S+) \(`)

// serveProcess runs `bin simcloud` on fx, listening on a free loopback
// port, and waits until it says where.
func serveProcess(ctx context.Context, bin string, fx simulated.Fixture) (_ *served, err error) {
	dir, err := os.MkdirTemp("", "kaifuku-bench-")
	if err != nil {
		return nil, fmt.Errorf("fixture directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	body, err := json.Marshal(fx)
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	path := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	cmd := exec.Command(bin, "simcloud", "--fixture", path, "--listen", "127.0.0.1:0",
		"--password", simcloudPassword, "--token", "", "--log-level", "warning")
	setProcAttr(cmd)
	stderr := &tailBuffer{max: 4096}
	addr := make(chan string, 1)
	cmd.Stdout, cmd.Stderr = &addrWatcher{addr: addr}, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("simcloud: %w", err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	// end stops the process (an interrupt, then a kill after 10 s) and
	// returns the CPU it used over its life.
	end := func() (time.Duration, error) {
		defer os.RemoveAll(dir)
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			cmd.Process.Kill()
		}
		timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		<-exited
		timer.Stop()
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if waitErr != nil {
			return cpu, fmt.Errorf("simcloud process: %w (%s)", waitErr, strings.TrimSpace(stderr.String()))
		}
		return cpu, nil
	}
	timer := time.NewTimer(simcloudStartTimeout)
	defer timer.Stop()
	select {
	case a := <-addr:
		return &served{url: "http://" + a, stop: end, apart: true, control: &http.Client{Timeout: time.Minute}}, nil
	case <-exited:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("simcloud %s exited before it listened: %v (%s)", bin, waitErr, strings.TrimSpace(stderr.String()))
	case <-timer.C:
		end()
		return nil, fmt.Errorf("simcloud %s: not listening after %s (%s)", bin, simcloudStartTimeout, strings.TrimSpace(stderr.String()))
	case <-ctx.Done():
		end()
		return nil, fmt.Errorf("simcloud %s: %w", bin, ctx.Err())
	}
}

// driver logs in to the server's Keystone and returns the Nova driver for
// its compute API; timeout is [nova] timeout (0: the driver's default).
func (s *served) driver(ctx context.Context, timeout time.Duration) (*nova.Cloud, error) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := nova.New(ctx, conf.Nova{AuthURL: s.url + "/v3", Username: "admin", Password: simcloudPassword,
		ProjectName: "admin", RegionName: simcloud.Region, Timeout: timeout}, logrus.NewEntry(log))
	if err != nil {
		return nil, fmt.Errorf("nova driver: %w", err)
	}
	return c, nil
}

// get decodes the answer of the control endpoint path into v.
func (s *served) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := s.control.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// httpCounts is what the server received.
type httpCounts struct {
	nova, keystone int
	ops            map[string]int
}

// counts reads the requests the server received per route and the Nova
// calls they made. Nova's are every route but Keystone's (/v3) and the
// control endpoints (/sim), refused requests and version documents
// included.
func (s *served) counts(ctx context.Context) (httpCounts, error) {
	var reqs struct {
		Requests map[string]int `json:"requests"`
	}
	if err := s.get(ctx, "/sim/requests", &reqs); err != nil {
		return httpCounts{}, err
	}
	var k simulated.Counters
	if err := s.get(ctx, "/sim/counters", &k); err != nil {
		return httpCounts{}, err
	}
	out := httpCounts{ops: k.Ops}
	for key, n := range reqs.Requests {
		_, route, _ := strings.Cut(key, " ")
		switch {
		case route == "/v3" || strings.HasPrefix(route, "/v3/"):
			out.keystone += n
		case route == "/sim" || strings.HasPrefix(route, "/sim/"):
		default:
			out.nova += n
		}
	}
	return out, nil
}

// placement reads where the servers are.
func (s *served) placement(ctx context.Context) (map[string]string, error) {
	var snap struct {
		Servers []simulated.ServerState `json:"servers"`
	}
	if err := s.get(ctx, "/sim/snapshot", &snap); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(snap.Servers))
	for _, sv := range snap.Servers {
		out[sv.ID] = sv.Host
	}
	return out, nil
}

// addrWatcher is the standard output of a simcloud process: it sends the
// address of the line that says where it listens.
type addrWatcher struct {
	addr chan<- string
	line []byte
	sent bool
}

func (w *addrWatcher) Write(p []byte) (int, error) {
	for _, b := range p {
		if w.sent {
			break
		}
		if b != '\n' {
			w.line = append(w.line, b)
			continue
		}
		if m := listening.FindSubmatch(w.line); m != nil {
			w.addr <- string(m[1])
			w.sent = true
		}
		w.line = w.line[:0]
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent
// use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
