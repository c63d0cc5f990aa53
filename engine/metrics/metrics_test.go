package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
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
