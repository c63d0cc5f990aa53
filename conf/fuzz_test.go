package conf

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseFlowValue: the flow parser never panics, every accepted value
// has a position for each task, and re-renders (Format) to a value that
// parses to the same spec. The seed corpus is in testdata/fuzz/.
func FuzzParseFlowValue(f *testing.F) {
	for _, s := range DefaultFlows() {
		f.Add(s.Format())
	}
	f.Fuzz(func(t *testing.T, value string) {
		spec, errs := parseFlowValue(FlowHostRH, Pos{File: "f", Line: 1}, textOf("f", 1, value))
		for _, e := range errs {
			var ce *Error
			if !errors.As(e, &ce) || ce.Pos.File != "f" || ce.Pos.Line < 1 || ce.Key != FlowHostRH.Option() {
				t.Fatalf("problem without a position: %#v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		for _, p := range Phases {
			for _, r := range spec.Phases[p] {
				if r.Pos.Line < 1 || r.Pos.Col < 1 || r.Name == "" {
					t.Fatalf("bad task ref %+v in %q", r, value)
				}
			}
		}
		out := spec.Format()
		again, errs := parseFlowValue(FlowHostRH, Pos{File: "f", Line: 1}, textOf("f", 1, out))
		if len(errs) > 0 {
			t.Fatalf("%q was accepted, but its rendering %q is not: %v", value, out, errors.Join(errs...))
		}
		if d := cmp.Diff(names(spec), names(again)); d != "" {
			t.Fatalf("%q -> %q changes the spec:\n%s", value, out, d)
		}
	})
}

// FuzzParse: whole files never make the reader panic, and every problem is
// a *conf.Error naming the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(everyOption))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("f.conf", data)
		if err == nil {
			return
		}
		var joined interface{ Unwrap() []error }
		if !errors.As(err, &joined) {
			t.Fatalf("not joined: %v", err)
		}
		for _, e := range joined.Unwrap() {
			var ce *Error
			if !errors.As(e, &ce) || ce.Pos.File != "f.conf" {
				t.Fatalf("problem without a file: %v", e)
			}
		}
	})
}
