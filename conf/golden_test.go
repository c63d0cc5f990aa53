package conf

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name.golden (rewriting it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if !strings.HasSuffix(got, "\n") {
		got += "\n"
	}
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./conf -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// parseErr parses text as file name and returns the error text; a nil error
// fails the test.
func parseErr(t *testing.T, name, text string) string {
	t.Helper()
	_, err := Parse(name, []byte(text))
	if err == nil {
		t.Fatalf("%s parsed without error:\n%s", name, text)
	}
	return err.Error()
}

// mustParse parses text and fails the test on error.
func mustParse(t *testing.T, name, text string) *Config {
	t.Helper()
	c, err := Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("unexpected error:\n%v\nin:\n%s", err, text)
	}
	return c
}

// names returns a spec's task names per phase.
func names(s FlowSpec) [3][]string {
	var out [3][]string
	for p := range s.Phases {
		out[p] = []string{}
		for _, r := range s.Phases[p] {
			out[p] = append(out[p], r.Name)
		}
	}
	return out
}
