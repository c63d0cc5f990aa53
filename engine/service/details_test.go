package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/api"
)

// quietFail fails without recording any progress, as a Lua task whose call
// raised does.
type quietFail struct{}

func (quietFail) Execute(context.Context, *engine.Env, engine.Store) (engine.Store, error) {
	return nil, engine.Fail("scripts/notify_webhook.lua:31: webhook answered HTTP 500")
}

func (quietFail) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

type shownTask struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Progress []struct {
		Message string `json:"message"`
	} `json:"progress_details"`
}

// details shows a notification through the API at microversion 1.1.
func (r *rig) details(id string) []shownTask {
	r.t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	h, err := api.New(r.db, func(context.Context, string) (bool, error) { return true, nil }, log,
		api.Settings{AuthStrategy: "token", Tokens: map[string]string{"t": "admin"}, DuplicateWindow: time.Minute, MaxBodyBytes: 4096})
	if err != nil {
		r.t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/notifications/"+id, nil)
	req.Header.Set("OpenStack-API-Version", "instance-ha 1.1")
	req.Header.Set("X-Auth-Token", "t")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out struct {
		Notification struct {
			Details []shownTask `json:"recovery_workflow_details"`
		} `json:"notification"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		r.t.Fatalf("GET notification: %d %s", w.Code, w.Body)
	}
	return out.Notification.Details
}

// A task failing in post without progress appears with its error, after
// the reverted tasks that ran before it.
func TestFailedPostTaskIsShownWithItsError(t *testing.T) {
	r := newRig(t, false, nil, true)
	fl := r.flows[conf.FlowInstance]
	fl.Phases[conf.Post] = []engine.FlowTask{{Spec: engine.Spec{Name: "notify_webhook", Kind: "lua"}, Phase: conf.Post, Task: quietFail{}}}
	d := r.details(r.runOne("error").UUID)
	if len(d) != 4 {
		t.Fatalf("want the three main tasks and the failed one: %+v", d)
	}
	for _, task := range d[:3] {
		if task.State != engine.StateReverted {
			t.Errorf("%s: %s, want REVERTED", task.Name, task.State)
		}
	}
	f := d[3]
	if f.Name != "notify_webhook" || f.State != engine.StateFailure || len(f.Progress) != 1 ||
		f.Progress[0].Message != "scripts/notify_webhook.lua:31: webhook answered HTTP 500" {
		t.Fatalf("failed task: %+v", f)
	}
}

// A notification the manager ignores without running a flow says why.
func TestDecisionWithoutFlowIsShown(t *testing.T) {
	r := newRig(t, false, nil, false)
	d := r.details(r.runOne("ignored").UUID)
	if len(d) != 1 || d[0].State != engine.StateSuccess || len(d[0].Progress) != 1 || d[0].Progress[0].Message != SegmentDisabledMessage {
		t.Fatalf("details: %+v", d)
	}
}
