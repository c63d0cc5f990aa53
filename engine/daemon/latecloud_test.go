package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// lateNova is a Nova and Keystone (simcloud) on a fixed address that a test
// starts and stops, keeping the cloud's state across.
type lateNova struct {
	addr  string
	cloud *simulated.Cloud
	srv   *http.Server
}

func newLateNova(t *testing.T, fixturePath string) *lateNova {
	t.Helper()
	fx, err := simulated.LoadFixture(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := simulated.New(fx, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	n := &lateNova{addr: fmt.Sprintf("127.0.0.1:%d", daemontest.FreePort(t)), cloud: c}
	t.Cleanup(n.stop)
	return n
}

func (n *lateNova) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = &http.Server{Handler: simcloud.New(n.cloud, simcloud.Options{}), ReadHeaderTimeout: 5 * time.Second}
	go n.srv.Serve(ln)
}

func (n *lateNova) stop() {
	if n.srv != nil {
		n.srv.Close()
		n.srv = nil
	}
}

// novaDeps composes the daemon as kaifuku serve does with [compute] driver
// = nova, retrying the login in the background every few milliseconds.
func novaDeps(e *daemontest.Env) func(*logrus.Logger, io.Writer) daemon.Deps {
	return func(log *logrus.Logger, out io.Writer) daemon.Deps {
		d := e.Deps(log, out)
		d.Cloud = func(ctx context.Context, cfg *conf.Config) (daemon.Cloud, error) {
			c, err := nova.New(ctx, cfg.Nova, logrus.NewEntry(log), nova.WithRetries(1, 0))
			if err != nil {
				return daemon.Cloud{}, err
			}
			return daemon.Cloud{Compute: c, Describe: "Nova at " + c.Endpoint()}, nil
		}
		d.CloudBackoff, d.CloudBackoffMax = 10*time.Millisecond, 100*time.Millisecond
		return d
	}
}

func useNova(t *testing.T, e *daemontest.Env, n *lateNova) {
	t.Helper()
	b, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "driver = simulated", "driver = nova", 1)
	cfg += fmt.Sprintf("[nova]\nauth_url = http://%s/v3\nusername = admin\npassword = secret\nproject_name = admin\ntimeout = 2\n", n.addr)
	e.Write(t, cfg)
}

// With Keystone and Nova unreachable the daemon starts and serves anyway:
// /healthz says degraded and why, kaifuku_compute_available is 0, a
// notification is accepted and waits (it is not failed); once Nova answers,
// the login succeeds in the background and the notification is recovered.
func TestServesWhileNovaIsDownAndRecoversOnceItAnswers(t *testing.T) {
	e := newEnv(t, 20, "")
	n := newLateNova(t, e.Dir+"/cloud.json")
	useNova(t, e, n)

	// The hosts are registered while Nova is up (hosts are checked
	// against its services), then the cloud goes away with the daemon.
	n.start(t)
	r := e.StartWith(t, novaDeps(e))
	r.Segment("inproc", true, "compute1", "compute2", "compute3")
	if err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	n.stop()

	r = e.StartWith(t, novaDeps(e))
	var h map[string]any
	r.MustCall("GET", "/healthz", nil, http.StatusOK, &h)
	c, _ := h["compute"].(map[string]any)
	if h["status"] != "degraded" || c["status"] != "unavailable" || !strings.Contains(fmt.Sprint(c["error"]), "keystone login") {
		t.Fatalf("healthz with Nova down: %v", h)
	}
	if m := r.Metrics(); !strings.Contains(m, "kaifuku_compute_available 0") {
		t.Errorf("metrics with Nova down lack kaifuku_compute_available 0")
	}
	id := r.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	time.Sleep(300 * time.Millisecond) // several login attempts
	if got := r.Notification(id).Notification.Status; got != "new" {
		t.Fatalf("a notification accepted while Nova is down is %q, want it waiting as new", got)
	}

	n.start(t)
	if got := r.WaitFinal(id, time.Minute); got.Notification.Status != "finished" {
		t.Fatalf("after Nova came back: %s %+v", got.Notification.Status, got.Notification.Details)
	}
	r.MustCall("GET", "/healthz", nil, http.StatusOK, &h)
	if c, _ := h["compute"].(map[string]any); h["status"] != "ok" || c["status"] != "available" {
		t.Errorf("healthz once Nova answers: %v", h)
	}
	if m := r.Metrics(); !strings.Contains(m, "kaifuku_compute_available 1") {
		t.Errorf("metrics once Nova answers lack kaifuku_compute_available 1")
	}
	r.WaitLog("connected after")
}

// A cloud that refuses the configuration (here: a wrong password) still
// stops the start as a configuration error.
func TestStartRefusesACloudThatRefusesTheLogin(t *testing.T) {
	e := newEnv(t, 20, "")
	n := newLateNova(t, e.Dir+"/cloud.json")
	useNova(t, e, n)
	n.srv = &http.Server{Handler: simcloud.New(n.cloud, simcloud.Options{Password: "another"}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	go n.srv.Serve(ln)
	cfg, err := conf.Load(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	_, err = daemon.New(context.Background(), cfg, novaDeps(e)(log, io.Discard))
	var ce *daemon.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "keystone login") {
		t.Fatalf("a refused login: %v, want a configuration error", err)
	}
}
