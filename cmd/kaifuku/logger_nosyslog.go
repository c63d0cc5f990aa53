//go:build windows || plan9

package main

import (
	"errors"

	"github.com/sirupsen/logrus"
)

func syslogHook(string, string) (logrus.Hook, error) {
	return nil, errors.New("there is no syslog on this system")
}
