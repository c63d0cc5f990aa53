package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// loggerOf builds the logger of a [DEFAULT] section as kaifuku serve does.
func loggerOf(t *testing.T, section string, debug bool, sink logSink) *logrus.Logger {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "masakari.conf")
	if err := os.WriteFile(p, []byte("[DEFAULT]\n"+section), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	log, closer, err := newLogger(cfg.Log, debug, sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	return log
}

// Without options: text on standard error at info level; debug or --debug
// lower it to debug.
func TestLoggerDefaultsAndDebug(t *testing.T) {
	var stderr bytes.Buffer
	log := loggerOf(t, "", false, logSink{stderr: &stderr})
	log.Debug("hidden")
	log.Info("shown")
	if s := stderr.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `level=info msg=shown`) {
		t.Errorf("default logger wrote %q", s)
	}
	for _, tc := range []struct {
		section string
		flag    bool
	}{{"debug = true\n", false}, {"", true}} {
		stderr.Reset()
		loggerOf(t, tc.section, tc.flag, logSink{stderr: &stderr}).Debug("detail")
		if !strings.Contains(stderr.String(), "level=debug msg=detail") {
			t.Errorf("%q, --debug %v: wrote %q", tc.section, tc.flag, stderr.String())
		}
	}
}

// log_dir and log_file send the log to the file (appending), not to
// standard error; use_json writes one JSON object a line.
func TestLoggerFileAndJSON(t *testing.T) {
	var stderr bytes.Buffer
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "masakari-engine.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := loggerOf(t, "log_dir = "+filepath.Join(dir, "logs")+"\nlog_file = masakari-engine.log\nuse_json = true\n", false, logSink{stderr: &stderr})
	log.WithField("notification_uuid", "n-1").Warn("recovering")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "earlier" {
		t.Fatalf("log file:\n%s", b)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &entry); err != nil {
		t.Fatalf("not JSON: %q: %v", lines[1], err)
	}
	if entry["level"] != "warning" || entry["msg"] != "recovering" || entry["notification_uuid"] != "n-1" || entry["time"] == nil {
		t.Errorf("JSON entry %v", entry)
	}
	if stderr.Len() != 0 {
		t.Errorf("standard error got %q with a log file", stderr.String())
	}

	// log_dir alone: kaifuku.log in it, the directory created.
	other := filepath.Join(dir, "new")
	loggerOf(t, "log_dir = "+other+"\n", false, logSink{stderr: &stderr}).Info("hello")
	if b, err := os.ReadFile(filepath.Join(other, "kaifuku.log")); err != nil || !strings.Contains(string(b), "msg=hello") {
		t.Errorf("log_dir alone: %q %v", b, err)
	}
}

// A log file that cannot be opened is a configuration error naming the
// option.
func TestLoggerBadFile(t *testing.T) {
	dir := t.TempDir()
	cfg := conf.Log{File: dir} // a directory
	if _, _, err := newLogger(cfg, false, logSink{stderr: &bytes.Buffer{}}); err == nil || !strings.Contains(err.Error(), "[DEFAULT] log_file") {
		t.Fatalf("a directory as log file: %v", err)
	}
}

// use_syslog and use_journal send every entry to the syslog socket too,
// tagged kaifuku, facility daemon.
func TestLoggerSyslog(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no syslog on " + runtime.GOOS)
	}
	for _, key := range []string{"use_syslog", "use_journal"} {
		t.Run(key, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "log")
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var stderr bytes.Buffer
			log := loggerOf(t, key+" = true\n", false, logSink{stderr: &stderr, syslogNetwork: "unixgram", syslogAddr: sock})
			log.Error("host compute1 failed")
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			msg := string(buf[:n])
			// <27>: facility daemon (3) * 8 + severity err (3).
			if !strings.HasPrefix(msg, "<27>") || !strings.Contains(msg, "kaifuku[") || !strings.Contains(msg, `msg="host compute1 failed"`) {
				t.Errorf("syslog got %q", msg)
			}
			if !strings.Contains(stderr.String(), "host compute1 failed") {
				t.Errorf("standard error lost the entry: %q", stderr.String())
			}
		})
	}
}
