package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	got := fromBuildInfo(bi)
	if want := (Info{Version: "v1.2.0", GoVersion: "go1.99", Revision: "abc123", Modified: true}); got != want {
		t.Fatalf("fromBuildInfo = %+v, want %+v", got, want)
	}
	if s, want := got.String(), "kaifuku v1.2.0 (go1.99, revision abc123, modified)"; s != want {
		t.Errorf("String = %q, want %q", s, want)
	}
	bare := fromBuildInfo(&debug.BuildInfo{})
	if bare.Version != "unknown" || bare.GoVersion != runtime.Version() || bare.Revision != "" {
		t.Errorf("empty build info: %+v", bare)
	}
	if s, want := bare.String(), "kaifuku unknown ("+runtime.Version()+")"; s != want {
		t.Errorf("String = %q, want %q", s, want)
	}
}

func TestRead(t *testing.T) {
	if got := Read(); got.GoVersion != runtime.Version() {
		t.Errorf("Read().GoVersion = %q, want %q", got.GoVersion, runtime.Version())
	}
}
