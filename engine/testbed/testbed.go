// Package testbed holds what tests stand on, as net/http/httptest serves
// tests without being one: the file trees they write (WriteFiles), and the
// test beds of .ci/ for the tests that run against them: the
// BMC bed (.ci/bmcbed), the Keystone bed (.ci/keystonebed) and the Nova bed
// (.ci/novabed). .ci/run sets each up, starts it and points the tests at it
// with the variables below; without them, a bed is looked for where its
// env.sh puts it by default.
//
// The BMC and Nova beds' tests are built only with their tags (bmcbed,
// novabed), so a bed that is not there fails them. The Keystone bed's tests
// are in every go test run: they skip when the bed does not answer, except
// with CI=true, where the bed must run and they fail.
package testbed

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BMCBed is the BMC bed: its directory, which holds bmc.sh (see
// .ci/bmcbed/README.md). The bed's default hosts, ports and credentials are
// the tests' to assume.
type BMCBed struct{ Dir string }

// BMC returns the BMC bed, KAIFUKU_BMCBED (by default .ci/bmcbed of the
// module).
func BMC(t testing.TB) BMCBed {
	t.Helper()
	return BMCBed{Dir: bedDir(t, "BMC", "KAIFUKU_BMCBED", "bmcbed", "bmc.sh")}
}

// Run runs bmc.sh with args (power HOST [on|off], fault HOST KIND, ...) and
// returns what it printed, trimmed; t fails if it fails.
func (b BMCBed) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(b.Dir, "bmc.sh"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("bmc.sh %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Keystone returns the Keystone bed's identity endpoint once it answers:
// KAIFUKU_KEYSTONEBED_URL, by default http://127.0.0.1:5001/v3 (the bed's
// port; the Nova bed's fake Keystone has 5000).
func Keystone(t testing.TB) string {
	t.Helper()
	u := getenv("KAIFUKU_KEYSTONEBED_URL", "http://127.0.0.1:5001/v3")
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return u
		}
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the Keystone bed must run in CI (start it, or set KAIFUKU_KEYSTONEBED_URL): %v", err)
	}
	t.Skipf("no Keystone bed at %s (%v): start it to run this test", u, err)
	return ""
}

// NovaBed is the running Nova bed: its directory (compute.sh, start.sh) and
// its endpoints, without a trailing slash.
type NovaBed struct {
	Dir      string
	Nova     string // the compute API, KAIFUKU_NOVABED_NOVA (http://127.0.0.1:8774/v2.1)
	Keystone string // its fake Keystone, KAIFUKU_NOVABED_KEYSTONE (http://127.0.0.1:5000/v3)
}

// Nova returns the Nova bed, KAIFUKU_NOVABED (by default .ci/novabed of the
// module), once both its endpoints answer.
func Nova(t testing.TB) NovaBed {
	t.Helper()
	b := NovaBed{
		Dir:      bedDir(t, "Nova", "KAIFUKU_NOVABED", "novabed", "compute.sh"),
		Nova:     strings.TrimSuffix(getenv("KAIFUKU_NOVABED_NOVA", "http://127.0.0.1:8774/v2.1"), "/"),
		Keystone: strings.TrimSuffix(getenv("KAIFUKU_NOVABED_KEYSTONE", "http://127.0.0.1:5000/v3"), "/"),
	}
	for _, u := range []string{b.Nova + "/", b.Keystone} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("Nova bed not reachable at %s (start it: bash %s/start.sh): %v", u, b.Dir, err)
		}
		resp.Body.Close()
	}
	return b
}

// bedDir is the directory of the bed name: the variable env, or .ci/name;
// a relative path is taken from the module root, not from the test's
// package directory. Without the file marker there, t fails.
func bedDir(t testing.TB, what, env, name, marker string) string {
	t.Helper()
	dir := getenv(env, filepath.Join(".ci", name))
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(t), dir)
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		t.Fatalf("no %s bed at %s (set %s): %v", what, dir, env, err)
	}
	return dir
}

// moduleRoot is the directory of the go.mod above the test's directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
