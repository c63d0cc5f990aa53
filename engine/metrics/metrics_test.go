package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

func TestMetricsText(t *testing.T) {
	m := New()
	m.Notification("VM", "finished", 3*time.Second)
	m.Request("POST /v1/notifications", 202, time.Millisecond)
	m.OnEvent(engine.Event{Type: engine.TaskSucceeded, Task: "stop_instance_task", TaskKind: "go", Duration: time.Second})
	m.OnEvent(engine.Event{Type: engine.TaskFailed, Task: "send_alert_mail", TaskKind: "lua", Duration: time.Second})
	m.OnEvent(engine.Event{Type: engine.TaskFailed, Task: "start_instance_task", TaskKind: "go", Duration: time.Second})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`kaifuku_notifications_total{status="finished",type="VM"} 1`,
		`kaifuku_recovery_duration_seconds_sum{type="VM"} 3`,
		`kaifuku_api_requests_total{code="202",route="POST /v1/notifications"} 1`,
		`kaifuku_task_duration_seconds_count{result="success",task="stop_instance_task"} 1`,
		`kaifuku_lua_task_errors_total{task="send_alert_mail"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), `kaifuku_lua_task_errors_total{task="start_instance_task"}`) {
		t.Error("a Go task counted as a Lua error")
	}
}

func scrape(t *testing.T, m *Metrics) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

// The last load's outcome: a failure keeps the time of the last success.
func TestLoaded(t *testing.T) {
	m := New()
	m.Loaded(true, time.Unix(1700000000, 0))
	_, body := scrape(t, m)
	mustContain(t, body, "kaifuku_config_last_reload_successful 1", "kaifuku_config_last_reload_success_timestamp_seconds 1.7e+09")
	m.Loaded(false, time.Unix(1700000100, 0))
	_, body = scrape(t, m)
	mustContain(t, body, "kaifuku_config_last_reload_successful 0", "kaifuku_config_last_reload_success_timestamp_seconds 1.7e+09")
}

func TestBuildInfo(t *testing.T) {
	_, body := scrape(t, New())
	mustContain(t, body, `kaifuku_build_info{goversion="`+runtime.Version()+`",revision="`)
}

// The stored notifications are counted at every scrape, every known status
// and type present; a failing count leaves only that gauge out.
func TestCountStored(t *testing.T) {
	m := New()
	var counts []db.NotificationCount
	var fail error
	m.CountStored(func(context.Context) ([]db.NotificationCount, error) { return counts, fail })
	_, body := scrape(t, m)
	mustContain(t, body, `kaifuku_notifications{status="error",type="VM"} 0`, `kaifuku_notifications{status="finished",type="COMPUTE_HOST"} 0`)
	counts = []db.NotificationCount{{Type: "VM", Status: "error", N: 3}, {Type: "COMPUTE_HOST", Status: "running", N: 1}}
	_, body = scrape(t, m)
	mustContain(t, body, `kaifuku_notifications{status="error",type="VM"} 3`, `kaifuku_notifications{status="running",type="COMPUTE_HOST"} 1`,
		`kaifuku_notifications{status="new",type="PROCESS"} 0`)
	fail = errors.New("database is locked")
	code, body := scrape(t, m)
	if code != 200 || strings.Contains(body, "kaifuku_notifications{") {
		t.Errorf("failing count: %d\n%s", code, body)
	}
	mustContain(t, body, "kaifuku_build_info")
}

// Nova calls by operation and outcome, whatever the error's wrapping.
func TestComputeCalls(t *testing.T) {
	m := New()
	fx, err := simulated.ParseFixture("fx.json", []byte(`{"hosts": [{"name": "c1", "status": "enabled", "state": "up"}],
		"servers": [{"id": "11111111-1111-4111-8111-111111111111", "name": "a", "host": "c1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulated.New(fx, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Compute(sim)
	ctx := context.Background()
	if _, err := c.GetServer(ctx, "11111111-1111-4111-8111-111111111111"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetServer(ctx, "22222222-2222-4222-8222-222222222222"); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
	if err := c.Stop(ctx, "11111111-1111-4111-8111-111111111111"); err != nil {
		t.Fatal(err)
	}
	_, body := scrape(t, m)
	mustContain(t, body, `kaifuku_nova_calls_total{operation="get_server",outcome="success"} 1`,
		`kaifuku_nova_calls_total{operation="get_server",outcome="not_found"} 1`,
		`kaifuku_nova_calls_total{operation="stop",outcome="success"} 1`,
		`kaifuku_nova_call_duration_seconds_count{operation="get_server"} 2`)
	for err, want := range map[error]string{
		nil: "success", fmt.Errorf("evacuate: %w", compute.ErrConflict): "conflict", compute.ErrUnavailable: "unavailable",
		compute.ErrInvalid: "invalid", compute.ErrForbidden: "forbidden", context.Canceled: "cancelled", errors.New("odd"): "error",
	} {
		if got := outcome(err); got != want {
			t.Errorf("outcome(%v) = %s, want %s", err, got, want)
		}
	}
}

func TestStormHeldAndFencingFailures(t *testing.T) {
	m := New()
	m.Notification("COMPUTE_HOST", engine.StatusHeld, 0)
	m.Notification("COMPUTE_HOST", engine.StatusFinished, 0)
	m.OnEvent(engine.Event{Type: engine.TaskFailed, Task: fence.TaskName, Store: engine.Store{engine.KeyHostName: "compute3"}})
	m.OnEvent(engine.Event{Type: engine.TaskFailed, Task: fence.TaskName, Store: engine.Store{engine.KeyHostName: "compute3"}})
	m.OnEvent(engine.Event{Type: engine.TaskFailed, Task: "disable_compute_service_task", Store: engine.Store{engine.KeyHostName: "compute4"}})
	m.OnEvent(engine.Event{Type: engine.TaskSucceeded, Task: fence.TaskName, Store: engine.Store{engine.KeyHostName: "compute5"}})
	_, body := scrape(t, m)
	for _, want := range []string{"kaifuku_storm_held_total 1\n", `kaifuku_fencing_failures_total{host="compute3"} 2` + "\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
	for _, not := range []string{`kaifuku_fencing_failures_total{host="compute4"}`, `kaifuku_fencing_failures_total{host="compute5"}`} {
		if strings.Contains(body, not) {
			t.Errorf("unexpected %q", not)
		}
	}
}
