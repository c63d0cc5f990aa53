package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

func TestSimcloudServes(t *testing.T) {
	fixture := filepath.Join("..", "..", "conf", "examples", "demo-cloud.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newRootCmd()
	out := &daemontest.Buffer{} // written by the command's goroutine, read by the test
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"simcloud", "--listen", "127.0.0.1:0", "--fixture", fixture})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+) `)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address announced: %q", out.String())
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v2.1/os-services?host=compute1", nil)
	req.Header.Set("X-Auth-Token", "admin:admin")
	req.Header.Set("X-OpenStack-Nova-API-Version", "2.53")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"host":"compute1"`) {
		t.Fatalf("os-services: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("simcloud did not stop")
	}
}

func TestSimcloudUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "cloud.json")
	if err := os.WriteFile(bad, []byte(`{"hosts": [{"name": "c1"}], "servers": [{"id": "x", "name": "s", "host": "c9"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"simcloud"}, "--fixture is required"},
		{[]string{"simcloud", "--fixture", filepath.Join(t.TempDir(), "none.json")}, "none.json"},
		{[]string{"simcloud", "--fixture", bad}, "cloud.json"},
		{[]string{"simcloud", "--fixture", bad, "--log-level", "loud"}, "--log-level"},
		{[]string{"simcloud", "--fixture", filepath.Join("..", "..", "conf", "examples", "demo-cloud.json"), "--listen", "nonsense"}, "--listen"},
	} {
		_, _, err := execute(t, tc.args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit 2 mentioning %q", tc.args, err, tc.want)
		}
	}
	out, _, err := execute(t, "simcloud", "--help")
	if err != nil || !strings.Contains(out, "/sim/") || !strings.Contains(out, "--fixture") {
		t.Fatalf("--help: %v\n%s", err, out)
	}
}
