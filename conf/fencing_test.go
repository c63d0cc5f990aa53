package conf

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFencingSections(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "etc/kaifuku.conf", `[fencing]
required = false
timeout = 30

[fencing:compute1]
agent = fence_ipmilan
ip = 10.0.0.11
ipport = 623
password_file = secrets/compute1

[fencing:compute2]
agent = ./agents/fence_custom
power-timeout = 5
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Dir(p)
	want := Fencing{Required: false, Timeout: 30 * time.Second, AgentDir: "/usr/sbin", Hosts: map[string]FenceHost{
		"compute1": {Host: "compute1", Pos: Pos{File: p, Line: 5}, Agent: "fence_ipmilan", AgentPos: Pos{File: p, Line: 6},
			PasswordFile: filepath.Join(etc, "secrets/compute1"), PasswordFilePos: Pos{File: p, Line: 9},
			Options: []FenceOption{{Key: "ip", Value: "10.0.0.11", Pos: Pos{File: p, Line: 7}}, {Key: "ipport", Value: "623", Pos: Pos{File: p, Line: 8}}}},
		"compute2": {Host: "compute2", Pos: Pos{File: p, Line: 11}, Agent: filepath.Join(etc, "agents/fence_custom"), AgentPos: Pos{File: p, Line: 12},
			Options: []FenceOption{{Key: "power-timeout", Value: "5", Pos: Pos{File: p, Line: 13}}}},
	}}
	if d := cmp.Diff(want, c.Fencing); d != "" {
		t.Errorf("Fencing (-want +got):\n%s", d)
	}
	if _, ok := c.Sections["fencing:compute1"]; ok {
		t.Error("a fencing section is also left among the unclaimed sections")
	}
}

func TestFencingSectionErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "kaifuku.conf", `[fencing:compute1]
ip = 10.0.0.11

[fencing:]
agent = fence_ipmilan

[fencing:compute2]
agent = fence_ipmilan
ip = 10.0.0.12
  ipport = 623

[fencing]
timeuot = 5
`)
	_, err := Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		p + ":1: [fencing:compute1] agent: missing",
		p + ":4: [fencing:] no host name",
		p + ":9: [fencing:compute2] ip: must be one line",
		p + ":13: [fencing] timeuot: unknown option; did you mean \"timeout\"?",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
