package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// logSink is where kaifuku serve logs: the local syslog socket unless a
// test names another.
type logSink struct {
	stderr io.Writer
	// syslogNetwork and syslogAddr name the syslog socket; empty is the
	// local one (/dev/log).
	syslogNetwork, syslogAddr string
}

// newLogger builds kaifuku serve's logger from oslo.log's options of
// [DEFAULT] (debug also with --debug): text or JSON (use_json), to
// log_file/log_dir or standard error, and to syslog as well with use_syslog
// or use_journal (journald reads the syslog socket). The closer closes the
// log file.
func newLogger(l conf.Log, debug bool, sink logSink) (*logrus.Logger, io.Closer, error) {
	log := logrus.New()
	log.SetOutput(sink.stderr)
	if l.JSON {
		log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	}
	if debug || l.Debug {
		log.SetLevel(logrus.DebugLevel)
	}
	closer := io.NopCloser(nil)
	if p := l.Path(); p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return nil, nil, fmt.Errorf("[DEFAULT] log_dir: %w", err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("[DEFAULT] log_file: %w", err)
		}
		log.SetOutput(f)
		closer = f
	}
	if l.Syslog || l.Journal {
		key := "use_syslog"
		if !l.Syslog {
			key = "use_journal"
		}
		hook, err := syslogHook(sink.syslogNetwork, sink.syslogAddr)
		if err != nil {
			closer.Close()
			return nil, nil, fmt.Errorf("[DEFAULT] %s: %w", key, err)
		}
		log.AddHook(hook)
	}
	return log, closer, nil
}
