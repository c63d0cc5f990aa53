package conf

import (
	"path/filepath"
	"strings"
	"testing"
)

// [api] cert_file and key_file go together; Masakari's [ssl] names apply
// with [DEFAULT] use_ssl when [api] sets neither, and are ignored without it.
func TestAPICertificateOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text     string
		cert, key, err string
	}{
		{"api", "[api]\ncert_file = api.pem\nkey_file = /k/api.key\n", filepath.Join(dir, "api.pem"), "/k/api.key", ""},
		{"ssl", "[DEFAULT]\nuse_ssl = true\n[ssl]\ncert_file = /s/c.pem\nkey_file = /s/k.pem\nca_file = /s/ca.pem\n", "/s/c.pem", "/s/k.pem", ""},
		{"api-wins", "[DEFAULT]\nuse_ssl = true\n[ssl]\ncert_file = /s/c.pem\nkey_file = /s/k.pem\n[api]\ncert_file = /a/c.pem\nkey_file = /a/k.pem\n", "/a/c.pem", "/a/k.pem", ""},
		{"ssl-without-use_ssl", "[ssl]\ncert_file = /s/c.pem\nkey_file = /s/k.pem\n", "", "", ""},
		{"cert-only", "[api]\ncert_file = /a/c.pem\n", "", "", "[api] cert_file: needs [api] key_file as well"},
		{"key-only", "[api]\nkey_file = /a/k.pem\n", "", "", "[api] key_file: needs [api] cert_file as well"},
		{"use_ssl-without-files", "[DEFAULT]\nuse_ssl = true\n", "", "", "[DEFAULT] use_ssl: true needs [ssl] cert_file and key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFile(t, dir, tc.name+".conf", tc.text))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.name+".conf:") {
					t.Fatalf("error %v, want one with the file and %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.API.CertFile != tc.cert || c.API.KeyFile != tc.key {
				t.Errorf("cert %q key %q, want %q %q", c.API.CertFile, c.API.KeyFile, tc.cert, tc.key)
			}
		})
	}
}

// oslo.log's options of a masakari.conf are read, and the log file is
// where oslo.log would put it.
func TestLogOptions(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(writeFile(t, dir, "m.conf", "[DEFAULT]\ndebug = True\nuse_json = true\nuse_syslog = true\nuse_journal = yes\nlog_dir = logs\nlog_file = masakari-engine.log\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Log{Debug: true, JSON: true, Syslog: true, Journal: true, Dir: filepath.Join(dir, "logs"), File: "masakari-engine.log"}
	if c.Log != want {
		t.Fatalf("log options %+v, want %+v", c.Log, want)
	}
	for _, tc := range []struct {
		l    Log
		want string
	}{
		{Log{}, ""},
		{Log{File: "k.log"}, "k.log"},
		{Log{File: "/var/log/k.log", Dir: "/d"}, "/var/log/k.log"},
		{Log{File: "k.log", Dir: "/d"}, "/d/k.log"},
		{Log{Dir: "/d"}, "/d/kaifuku.log"},
	} {
		if got := tc.l.Path(); got != tc.want {
			t.Errorf("%+v: path %q, want %q", tc.l, got, tc.want)
		}
	}
	if _, err := Load(writeFile(t, dir, "bad.conf", "[DEFAULT]\nuse_json = sometimes\n")); err == nil || !strings.Contains(err.Error(), "use_json") {
		t.Errorf("a bad use_json: %v", err)
	}
}
