package simulated

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// FuzzParseFixture: any input gives a fixture New accepts, or an error;
// never a panic.
func FuzzParseFixture(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.json")
	examples, _ := filepath.Glob(filepath.Join("..", "..", "..", "conf", "examples", "*cloud*.json"))
	for _, file := range append(seeds, examples...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"hosts": [{"name": "c1"}], "faults": [{"op": "stop", "error": "never", "count": 1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fx, err := ParseFixture("fuzz.json", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		if _, err := New(fx, clock.NewFake(t0)); err != nil {
			t.Fatalf("ParseFixture accepted what New refuses: %v", err)
		}
	})
}
