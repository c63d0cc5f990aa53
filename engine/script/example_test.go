package script

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// okDoer answers every request 200 and records it.
type okDoer struct {
	mu   sync.Mutex
	urls []string
	body []map[string]any
}

func (d *okDoer) Do(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	d.mu.Lock()
	d.urls = append(d.urls, r.URL.String())
	d.body = append(d.body, v)
	d.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{}`)), Header: http.Header{}}, nil
}

type mailRecorder struct {
	mu    sync.Mutex
	mails []Mail
}

func (m *mailRecorder) Send(_ context.Context, mail Mail) error {
	m.mu.Lock()
	m.mails = append(m.mails, mail)
	m.mu.Unlock()
	return nil
}

// TestCustomRecoveryMethodsExample runs the shipped example configuration:
// the shipped scripts around the built-in tasks, on the example cloud.
func TestCustomRecoveryMethodsExample(t *testing.T) {
	cfg, err := conf.Load("../../conf/examples/masakari-custom-recovery-methods.conf")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	fx, err := simulated.LoadFixture("../../conf/examples/cloud.json")
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := simulated.New(fx, clk)
	if err != nil {
		t.Fatal(err)
	}
	doer, mailer := &okDoer{}, &mailRecorder{}
	reg := engine.NewRegistry()
	builtin.Register(reg, cloud, cfg)
	if err := Register(reg, Options{Dir: cfg.Lua.ScriptsDir, Config: cfg, Cloud: cloud, HTTP: doer, Mailer: mailer}); err != nil {
		t.Fatal(err)
	}
	flows, err := engine.BuildAll(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{}, nil)
	runner := &engine.Runner{Clock: clk, Log: f.runner.Log}
	res := runner.Run(context.Background(), engine.Request{NotificationUUID: "n-host", Flow: flows[conf.FlowHostAuto],
		Store: engine.Store{"host_name": "compute1", "notification_uuid": "n-host"}})
	if res.Err != nil || res.Status != engine.StatusFinished {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	var names []string
	for _, r := range res.Tasks {
		names = append(names, r.Name+":"+r.State)
	}
	want := "send_alert_mail:SUCCESS disable_compute_service_task:SUCCESS prepare_HA_enabled_instances_task:SUCCESS " +
		"notify_webhook:SUCCESS evacuate_instances_task:SUCCESS update_metering:SUCCESS"
	if strings.Join(names, " ") != want {
		t.Fatalf("tasks %v", names)
	}
	if len(mailer.mails) != 1 || !strings.Contains(mailer.mails[0].Subject, "[kaifuku] compute host compute1 failed") ||
		strings.Join(mailer.mails[0].To, ",") != "ops@example.com,oncall@example.com" {
		t.Fatalf("mails %+v", mailer.mails)
	}
	if len(doer.urls) != 2 || doer.urls[0] != "https://hooks.example.com/services/kaifuku" ||
		doer.urls[1] != "https://metering.example.com:8443/v1/recoveries" {
		t.Fatalf("requests %v", doer.urls)
	}
	metered := doer.body[1]["instances"].([]any)
	if len(metered) != len(res.Store["instance_list"].([]any)) || res.Store["metering_records"] != float64(len(metered)) {
		t.Fatalf("metered %v of %v", metered, res.Store["instance_list"])
	}
	for _, m := range metered {
		if m.(map[string]any)["host"] == "compute1" {
			t.Errorf("metered instance still on the failed host: %v", m)
		}
	}
}
