package testbed

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// outcome runs f with a testing.TB that records how f ends: "" when it
// returns, else "fatal: …" or "skip: …".
func outcome(t *testing.T, f func(testing.TB)) string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.end
}

type recorder struct {
	testing.TB
	end string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) { r.stop("fatal: " + fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.stop("fatal: " + fmt.Sprintf(format, args...))
}

func (r *recorder) Skipf(format string, args ...any) {
	r.stop("skip: " + fmt.Sprintf(format, args...))
}

func (r *recorder) stop(end string) {
	r.end = end
	runtime.Goexit()
}

func TestBMC(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho \" $* \"\n"
	if err := os.WriteFile(filepath.Join(dir, "bmc.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAIFUKU_BMCBED", dir)
	var bed BMCBed
	if end := outcome(t, func(tb testing.TB) { bed = BMC(tb) }); end != "" || bed.Dir != dir {
		t.Fatalf("BMC = %+v, %s; want %s", bed, end, dir)
	}
	if got := bed.Run(t, "power", "compute1"); got != "power compute1" {
		t.Errorf("Run = %q", got)
	}

	t.Setenv("KAIFUKU_BMCBED", filepath.Join(dir, "none"))
	if end := outcome(t, func(tb testing.TB) { BMC(tb) }); !strings.HasPrefix(end, "fatal: no BMC bed at "+dir) {
		t.Errorf("a missing bed: %q, want a failure", end)
	}
}

// A relative directory is the module root's, whichever package tests.
func TestBedDirFromModuleRoot(t *testing.T) {
	t.Setenv("KAIFUKU_TESTBED_DIR", filepath.Join("engine", "testbed"))
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var dir string
	end := outcome(t, func(tb testing.TB) { dir = bedDir(tb, "this", "KAIFUKU_TESTBED_DIR", "none", "testbed.go") })
	if want := filepath.Join(root, "engine", "testbed"); end != "" || dir != want {
		t.Errorf("bedDir = %q, %s; want %s", dir, end, want)
	}
}

func TestKeystone(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v3" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		path, ci, want string
	}{
		{"/v3", "", ""},
		{"/v3", "true", ""},
		{"/none", "", "skip: no Keystone bed at " + srv.URL + "/none (GET " + srv.URL + "/none: 404 Not Found)"},
		{"/none", "1", "skip: "},
		{"/none", "true", "fatal: the Keystone bed must run in CI"},
	} {
		t.Setenv("KAIFUKU_KEYSTONEBED_URL", srv.URL+c.path)
		t.Setenv("CI", c.ci)
		var u string
		end := outcome(t, func(tb testing.TB) { u = Keystone(tb) })
		if !strings.HasPrefix(end, c.want) || (c.want == "") != (end == "") {
			t.Errorf("%s with CI=%q: %q, want %q…", c.path, c.ci, end, c.want)
		}
		if c.want == "" && u != srv.URL+c.path {
			t.Errorf("%s: Keystone = %q", c.path, u)
		}
	}
}
