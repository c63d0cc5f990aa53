package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// hostileBodies are bodies under the default 1 MiB limit that once pinned a
// CPU (deep nesting for minutes, 90k keys for seconds) or were wrongly
// accepted (trailing data, invalid UTF-8). Each must get Masakari's 400.
func hostileBodies() []apiCase {
	const limit = 1 << 20
	keys := manyKeys(90000)
	vm := `{"notification": {"type": "VM", "hostname": "compute-1", "generated_time": "2026-11-25T21:44:11", "payload": {"event": "LIFECYCLE", "instance_uuid": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "vir_domain_event": "STOPPED_FAILED"%s}}}%s`
	return []apiCase{
		{name: "1 MB of [", body: strings.Repeat("[", limit-1), code: 400, message: "Malformed request body"},
		{name: "deep in the payload", body: fmt.Sprintf(vm, `, "x": `+strings.Repeat("[", 100000)+strings.Repeat("]", 100000), ""),
			code: 400, message: "Malformed request body"},
		{name: "90k keys", body: fmt.Sprintf(vm, keys, ""), code: 400},
		{name: "trailing object", body: fmt.Sprintf(vm, "", " {}"), code: 400, message: "Malformed request body"},
		{name: "trailing garbage", body: fmt.Sprintf(vm, "", " x"), code: 400, message: "Malformed request body"},
		{name: "invalid UTF-8", body: fmt.Sprintf(vm, `, "x": "caf\xe9"`, ""), code: 400, message: "Malformed request body"},
		{name: "lone surrogate", body: fmt.Sprintf(vm, `, "x": "\ud800"`, ""), code: 400, message: "Malformed request body"},
	}
}

func TestHostileBodies(t *testing.T) {
	f := newAPILimit(t, "token", 1<<20)
	for _, c := range hostileBodies() {
		c.method, c.path = "POST", "/v1/notifications"
		f.run(c)
	}
	// The 90k keys get the schema's message, which names them all.
	keys := manyKeys(90000)
	body := fmt.Sprintf(`{"notification": {"type": "PROCESS", "hostname": "compute-1", "generated_time": "2026-11-25T21:44:11", "payload": {"event": "STOPPED", "process_name": "nova-compute"%s}}}`, keys)
	code, msg := f.fault(t, "POST", "/v1/notifications", body)
	want := "Additional properties are not allowed (" + quoted(90000) + " were unexpected)"
	if code != 400 || msg != want {
		i := 0
		for i < len(msg) && i < len(want) && msg[i] == want[i] {
			i++
		}
		t.Errorf("90k keys in the payload: %d, message differs from byte %d: got %.80q, want %.80q", code, i, msg[i:], want[i:])
	}
}

// fault sends a request with the admin token and returns the status and
// the message of the fault it answers.
func (f *apiFixture) fault(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fault map[string]struct {
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&fault); err != nil {
		t.Fatalf("%s %s: %d, body is no fault: %v", method, path, resp.StatusCode, err)
	}
	for _, v := range fault {
		return resp.StatusCode, v.Message
	}
	return resp.StatusCode, ""
}

// manyKeys is n members "0": "", "1": "", ... (keys in base 36) to append
// to an object.
func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `,%q:""`, strconv.FormatInt(int64(i), 36))
	}
	return b.String()
}

// quoted is the keys of manyKeys(n) as Python prints them.
func quoted(n int) string {
	q := make([]string, n)
	for i := range q {
		q[i] = "'" + strconv.FormatInt(int64(i), 36) + "'"
	}
	return strings.Join(q, ", ")
}

// BenchmarkHostileBodies measures the answer to each hostile body: each
// must take milliseconds, not seconds.
func BenchmarkHostileBodies(b *testing.B) {
	f := newAPILimit(b, "token", 1<<20)
	for _, c := range hostileBodies() {
		c.method, c.path = "POST", "/v1/notifications"
		b.Run(c.name, func(b *testing.B) {
			g := *f
			g.t = b
			for b.Loop() {
				g.run(c)
			}
		})
	}
}
