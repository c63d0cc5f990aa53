package fence

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
)

const fakeMetadataAgent = `#!/bin/sh
[ "$1 $2" = "-o metadata" ] || exit 1
cat <<'XML'
<?xml version="1.0" ?>
<resource-agent name="fence_meta" shortdesc="test agent">
<parameters>
	<parameter name="action" unique="0" required="1"><content type="string" default="reboot"/></parameter>
	<parameter name="ip" unique="0" required="0"><content type="string"/></parameter>
	<parameter name="ipport" unique="0" required="0"><content type="integer"/></parameter>
	<parameter name="password" unique="0" required="0"><content type="string"/></parameter>
	<parameter name="power_timeout" unique="0" required="0"><content type="second"/></parameter>
</parameters>
<actions>
	<action name="on"/>
	<action name="off"/>
	<action name="status"/>
	<action name="metadata"/>
</actions>
</resource-agent>
XML
`

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// load parses a configuration held in memory, as kaifuku check would.
func load(t *testing.T, dir, text string) (string, conf.Fencing) {
	t.Helper()
	p := filepath.Join(dir, "kaifuku.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := conf.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, c.Fencing
}

func TestCheckAgainstMetadata(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "fence_meta", fakeMetadataAgent)
	writeScript(t, dir, "fence_nometa", "#!/bin/sh\necho 'no such option' >&2\nexit 1\n")
	p, f := load(t, dir, `[fencing]
agent_dir = .

[fencing:compute1]
agent = fence_meta
ip = 10.0.0.11
ipprot = 623
power-timeout = 5
action = off

[fencing:compute2]
agent = fence_mta

[fencing:compute3]
agent = fence_nometa

[fencing:compute4]
agent = fence_meta
password = x
password_file = missing.pw

[fencing:compute5]
agent = fence_meta
password_file = missing.pw
`)
	err := Check(context.Background(), f)
	if err == nil {
		t.Fatal("Check passed")
	}
	for _, want := range []string{
		p + `:7: [fencing:compute1] ipprot: not an option of fence_meta (it would ignore it); did you mean "ipport"?`,
		p + `:9: [fencing:compute1] action: kaifuku sets the action`,
		p + `:12: [fencing:compute2] agent: fence agent ` + filepath.Join(dir, "fence_mta") + ` not found; did you mean "fence_meta"?`,
		p + `:15: [fencing:compute3] agent: ` + filepath.Join(dir, "fence_nometa") + ` -o metadata failed: no such option`,
		p + `:20: [fencing:compute4] password_file: give the password once`,
		p + `:24: [fencing:compute5] password_file: ` + filepath.Join(dir, "missing.pw") + `: no such file or directory`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks\n%s\nin\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "power-timeout") || strings.Contains(err.Error(), ":6:") {
		t.Errorf("Check refused a valid option:\n%v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("Check reported %d problems, want 6:\n%v", n, err)
	}
}

func TestCheckValid(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "fence_meta", fakeMetadataAgent)
	_, f := load(t, dir, "[fencing:compute1]\nagent = ./fence_meta\nip = 10.0.0.11\nipport = 623\n")
	if err := Check(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	md, err := ReadMetadata(context.Background(), filepath.Join(dir, "fence_meta"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "fence_meta" || len(md.Params) != 5 || strings.Join(md.Actions, ",") != "on,off,status,metadata" {
		t.Errorf("metadata = %+v", md)
	}
}

// TestCheckRealAgent reads the metadata of the ClusterLabs fence_ipmilan
// (Debian package fence-agents), which CI installs.
func TestCheckRealAgent(t *testing.T) {
	const agent = "/usr/sbin/fence_ipmilan"
	if _, err := os.Stat(agent); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (install fence-agents): %v", agent, err)
		}
		t.Skipf("%s not installed (Debian package fence-agents)", agent)
	}
	dir := t.TempDir()
	p, f := load(t, dir, `[fencing:compute1]
agent = fence_ipmilan
ip = 127.0.0.1
ipport = 9001
username = admin
password = x
lanplus = 1
cipher = 3
power_wait = 0

[fencing:compute2]
agent = fence_ipmilan
ip_port = 9002
`)
	err := Check(context.Background(), f)
	want := p + `:13: [fencing:compute2] ip_port: not an option of fence_ipmilan (it would ignore it); did you mean "ipport"?`
	if err == nil || err.Error() != want {
		t.Fatalf("Check = %v\nwant %s", err, want)
	}
}
