package daemontest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// API is a client of a daemon's v1 API, as masakari-monitors or the
// openstack CLI are: a token in X-Auth-Token and, when Version is set, an
// OpenStack-API-Version header asking for that microversion. Its methods
// fail the test on a transport error or an answer they cannot decode.
type API struct {
	T       testing.TB
	URL     string // http://host:port
	Token   string
	Version string // "1.2"; empty: no header (the minimum microversion)
	HTTP    *http.Client
}

// NewAPI is a client of the API at url holding token, asking for
// microversion 1.2, with a 10 s timeout.
func NewAPI(t testing.TB, url, token string) API {
	return API{T: t, URL: url, Token: token, Version: "1.2", HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// At is the same client asking for another microversion ("" for none).
func (c API) At(version string) API {
	c.Version = version
	return c
}

// Call sends a request with body as JSON (when non-nil), decodes a JSON
// answer into out (when non-nil) and returns the status code.
func (c API) Call(method, path string, body, out any) int {
	c.T.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.T.Fatalf("%s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	req.Header.Set("X-Auth-Token", c.Token)
	req.Header.Set("Content-Type", "application/json")
	if c.Version != "" {
		req.Header.Set("OpenStack-API-Version", "instance-ha "+c.Version)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			c.T.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// MustCall is Call that fails the test unless the answer's status is want.
func (c API) MustCall(method, path string, body any, want int, out any) {
	c.T.Helper()
	var raw json.RawMessage
	if code := c.Call(method, path, body, &raw); code != want {
		c.T.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.T.Fatalf("%s %s: %s: %v", method, path, raw, err)
		}
	}
}

// Segment creates an auto-recovery segment of COMPUTE hosts (SSH control)
// and returns the UUIDs of the segment and of each host, by name. The
// segment is created at microversion 1.2, the first that takes enabled.
func (c API) Segment(name string, enabled bool, hosts ...string) (string, map[string]string) {
	c.T.Helper()
	var seg struct {
		Segment struct {
			UUID string `json:"uuid"`
		} `json:"segment"`
	}
	c.At("1.2").MustCall("POST", "/v1/segments", map[string]any{"segment": map[string]any{
		"name": name, "recovery_method": "auto", "service_type": "COMPUTE", "enabled": enabled}}, 201, &seg)
	ids := map[string]string{}
	for _, h := range hosts {
		var host struct {
			Host struct {
				UUID string `json:"uuid"`
			} `json:"host"`
		}
		c.MustCall("POST", "/v1/segments/"+seg.Segment.UUID+"/hosts", map[string]any{"host": map[string]any{
			"name": h, "type": "COMPUTE", "control_attributes": "SSH"}}, 201, &host)
		ids[h] = host.Host.UUID
	}
	return seg.Segment.UUID, ids
}

// Notify sends a notification generated now and returns its UUID; it fails
// the test unless the notification is accepted as new.
func (c API) Notify(typ, host string, payload map[string]string) string {
	c.T.Helper()
	var out struct {
		Notification struct {
			UUID   string `json:"notification_uuid"`
			Status string `json:"status"`
		} `json:"notification"`
	}
	c.MustCall("POST", "/v1/notifications", map[string]any{"notification": map[string]any{
		"type": typ, "hostname": host, "generated_time": time.Now().UTC().Format("2006-01-02T15:04:05.000000"), "payload": payload,
	}}, 202, &out)
	if out.Notification.Status != "new" {
		c.T.Fatalf("created notification has status %q, want new", out.Notification.Status)
	}
	return out.Notification.UUID
}

// Task is a task of a notification's recovery_workflow_details.
type Task struct {
	Name            string  `json:"name"`
	State           string  `json:"state"`
	Progress        float64 `json:"progress"`
	ProgressDetails []struct {
		Timestamp string `json:"timestamp"`
		Progress  string `json:"progress"`
		Message   string `json:"message"`
	} `json:"progress_details"`
}

// Shown is what GET /v1/notifications/{id} answers.
type Shown struct {
	Notification struct {
		UUID    string `json:"notification_uuid"`
		Status  string `json:"status"`
		Details []Task `json:"recovery_workflow_details"`
	} `json:"notification"`
}

// Final says whether the notification's status is final.
func (n Shown) Final() bool {
	switch n.Notification.Status {
	case "finished", "ignored", "failed", "error":
		return true
	}
	return false
}

// Notification reads a notification at microversion 1.1 or later (with
// its recovery_workflow_details).
func (c API) Notification(id string) Shown {
	c.T.Helper()
	if c.Version == "" || c.Version == "1.0" {
		c.Version = "1.1"
	}
	var n Shown
	c.MustCall("GET", "/v1/notifications/"+id, nil, 200, &n)
	return n
}

// WaitFor polls a notification until ok says yes, failing the test after
// timeout; what names the awaited state in the failure.
func (c API) WaitFor(id string, timeout time.Duration, what string, ok func(Shown) bool) Shown {
	c.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := c.Notification(id)
		if ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("notification %s is not %s after %s: %+v", id, what, timeout, n.Notification)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFinal polls a notification until its status is final.
func (c API) WaitFinal(id string, timeout time.Duration) Shown {
	c.T.Helper()
	return c.WaitFor(id, timeout, "final", Shown.Final)
}

// CloudView is what the simulated cloud's GET /debug/cloud answers.
type CloudView struct {
	Services []struct {
		Host   string `json:"host"`
		Status string `json:"status"`
		State  string `json:"state"`
	} `json:"services"`
	Servers []struct {
		ID      string `json:"id"`
		Host    string `json:"host"`
		VMState string `json:"vm_state"`
	} `json:"servers"`
	Counters struct {
		Ops         map[string]int `json:"ops"`
		Evacuations map[string]int `json:"evacuations"`
	} `json:"counters"`
}

// Cloud reads the simulated cloud's state.
func (c API) Cloud() CloudView {
	c.T.Helper()
	var v CloudView
	c.MustCall("GET", "/debug/cloud", nil, 200, &v)
	return v
}

// Metrics reads the Prometheus metrics.
func (c API) Metrics() string {
	c.T.Helper()
	resp, err := c.HTTP.Get(c.URL + "/metrics")
	if err != nil {
		c.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatal(err)
	}
	return string(b)
}
