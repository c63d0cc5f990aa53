//go:build !windows && !plan9

package main

import (
	"log/syslog"

	"github.com/sirupsen/logrus"
	lsyslog "github.com/sirupsen/logrus/hooks/syslog"
)

// syslogHook sends every entry to the syslog socket (network and addr empty:
// the local one), facility daemon, tag kaifuku.
func syslogHook(network, addr string) (logrus.Hook, error) {
	return lsyslog.NewSyslogHook(network, addr, syslog.LOG_INFO|syslog.LOG_DAEMON, "kaifuku")
}
