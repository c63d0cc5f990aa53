package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool trusting the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kaifuku test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "api.pem"), filepath.Join(dir, "api.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// With [api] cert_file and key_file the API serves HTTPS: a client trusting
// the certificate gets answers over TLS, a plain HTTP request is refused.
func TestServesHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	e := newEnv(t, 20, "")
	b, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.Write(t, strings.Replace(string(b), "[api]\n", "[api]\ncert_file = "+certFile+"\nkey_file = "+keyFile+"\n", 1))
	r := e.Start(t)
	addr := strings.TrimPrefix(r.URL, "http://")
	r.URL = "https://" + addr
	r.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	resp, err := r.HTTP.Get(r.URL + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS /healthz: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || len(resp.TLS.PeerCertificates) != 1 ||
		resp.TLS.PeerCertificates[0].Subject.CommonName != "kaifuku test" {
		t.Fatalf("HTTPS /healthz: %d, TLS %+v", resp.StatusCode, resp.TLS)
	}
	r.Segment("inproc", true, "compute1")
	var segs struct {
		Segments []any `json:"segments"`
	}
	r.MustCall("GET", "/v1/segments", nil, http.StatusOK, &segs)
	if len(segs.Segments) != 1 {
		t.Errorf("segments over HTTPS: %+v", segs)
	}

	plain, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %d %s", plain.StatusCode, body)
		}
	}
	untrusting := &http.Client{Timeout: 10 * time.Second}
	if _, err := untrusting.Get(r.URL + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client not trusting the certificate: %v", err)
	}
	r.WaitLog("on https://" + addr + "/v1")
}

// A certificate that cannot be loaded stops the start as a configuration
// error naming the options.
func TestStartRefusesABadCertificate(t *testing.T) {
	e := newEnv(t, 20, "")
	cfg, err := conf.Load(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(e.Dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.API.CertFile, cfg.API.KeyFile = bad, bad
	log := logrus.New()
	log.SetOutput(io.Discard)
	_, err = daemon.New(context.Background(), cfg, e.Deps(log, io.Discard))
	var ce *daemon.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "[api] cert_file "+bad) {
		t.Fatalf("a bad certificate: %v", err)
	}
}
