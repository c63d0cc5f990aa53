package daemon

import (
	"crypto/tls"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// serverTLS is the API's TLS configuration of [api] cert_file and key_file,
// read once at start, or nil for plain HTTP.
func serverTLS(api conf.API) (*tls.Config, error) {
	if api.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(api.CertFile, api.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("[api] cert_file %s, key_file %s: %w", api.CertFile, api.KeyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// scheme is the API's URL scheme.
func (d *Daemon) scheme() string {
	if d.tls != nil {
		return "https"
	}
	return "http"
}
