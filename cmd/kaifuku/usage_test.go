package main

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// kaifuku test without a path, in a directory without scripts/, says what
// it looked for and what to give instead of a bare "stat scripts".
func TestTestWithoutPathOrScriptsDir(t *testing.T) {
	t.Chdir(t.TempDir())
	_, _, err := execute(t, "test")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("err %v, want exit 2", err)
	}
	want := "no test path given and the scripts directory scripts does not exist: name test files or directories, or give --config-file with [DEFAULT] scripts_dir"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if strings.Contains(err.Error(), "stat ") {
		t.Errorf("error shows Go internals: %v", err)
	}
}

// check refuses a simulated cloud fixture that the daemon would refuse at
// start-up, naming the fixture's line and key.
func TestCheckLoadsTheSimulatedFixture(t *testing.T) {
	dir := t.TempDir()
	fx := dir + "/cloud.json"
	if err := os.WriteFile(fx, []byte("{\"hosts\": [{\"name\": \"compute1\", \"reservd\": true}], \"servers\": []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := writeConf(t, "[compute]\nfixture = "+fx+"\n")
	_, _, err := execute(t, "check", "--config-file", p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	want := "[compute] fixture: " + fx + `:1:33: hosts[0]: unknown key "reservd" (did you mean "reserved"?)`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}

	p = writeConf(t, "[compute]\nfixture = "+dir+"/missing.json\n")
	if _, _, err := execute(t, "check", "--config-file", p); err == nil || !strings.Contains(err.Error(), "[compute] fixture: ") {
		t.Errorf("missing fixture: err %v", err)
	}

	// The nova driver is not contacted by check.
	p = writeConf(t, "[compute]\ndriver = nova\n[nova]\nauth_url = http://127.0.0.1:1/v3\nusername = u\npassword = p\nproject_name = p\n")
	if out, _, err := execute(t, "check", "--config-file", p); err != nil || !strings.Contains(out, "configuration is valid") {
		t.Errorf("nova driver: out %q err %v", out, err)
	}
}

// kaifuku run simulates the cloud only: its help warns that Lua tasks
// really post and mail, and names the command that uses fakes.
func TestRunHelpWarnsThatLuaModulesAreReal(t *testing.T) {
	out, _, err := execute(t, "run", "--help")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"Only the cloud is simulated.",
		"a run with a production configuration really calls webhooks and sends mails",
		"kaifuku test runs tasks and flows against fakes instead",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("run --help lacks %q:\n%s", want, out)
		}
	}
}

// A bad --log-level lists the levels instead of naming the logging library.
func TestBadLogLevelListsTheLevels(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--notification", "n.json", "--cloud", "c.json", "--log-level", "loud"},
		{"simcloud", "--fixture", "c.json", "--log-level", "loud"},
	} {
		_, _, err := execute(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Fatalf("%s: err %v, want exit 2", args[0], err)
		}
		if !strings.Contains(err.Error(), `--log-level "loud" is not one of debug, info, warning, error`) || strings.Contains(err.Error(), "logrus") {
			t.Errorf("%s: %v", args[0], err)
		}
	}
}
