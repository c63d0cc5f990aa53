package nova

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Microversion is the compute API microversion kaifuku speaks, as Masakari:
// service ids are UUIDs and a service can be forced down with PUT
// /os-services/{id}.
const Microversion = "2.53"

// DefaultTimeout bounds one HTTP request when [nova] timeout is unset.
const DefaultTimeout = 60 * time.Second

// maxIdleConnsPerHost is how many idle connections to one host (Nova's
// endpoint, Keystone's) the driver keeps for the next requests: more than
// the engine sends at once (host_failure_recovery_threads evacuations, their
// polls and the confirmations' lists), so that a burst reuses the
// connections of the previous one instead of opening new ones (Go's default
// keeps 2).
const maxIdleConnsPerHost = 64

// Cloud is a compute.Cloud backed by Nova. It is safe for concurrent use.
type Cloud struct {
	sc       *gophercloud.ServiceClient
	log      *logrus.Entry
	clk      clock.Clock
	attempts int
	backoff  time.Duration
	secrets  []string
}

var _ compute.Cloud = (*Cloud)(nil)

// Close closes the client's idle connections to Nova and Keystone, among
// them any its transport dialled for a request that then went on another:
// a server shutting down gracefully waits for those. A call made after Close
// opens new connections.
func (c *Cloud) Close() { c.sc.ProviderClient.HTTPClient.CloseIdleConnections() }

// Option adjusts a Cloud.
type Option func(*options)

type options struct {
	clk      clock.Clock
	attempts int
	backoff  time.Duration
}

// WithClock makes retry back-offs wait on clk (default the wall clock).
func WithClock(clk clock.Clock) Option { return func(o *options) { o.clk = clk } }

// WithRetries sets how many times a retryable call is tried in all (at least
// 1; default 4) and the first back-off, doubled after every attempt (default
// 500 ms, capped at 8 s).
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(o *options) {
		if attempts < 1 {
			attempts = 1
		}
		o.attempts, o.backoff = attempts, backoff
	}
}

// New logs in to Keystone (or takes the static token of c) and returns a Nova
// client at microversion 2.53.
func New(ctx context.Context, c conf.Nova, log *logrus.Entry, opts ...Option) (*Cloud, error) {
	o := options{clk: clock.Real{}, attempts: 4, backoff: 500 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = logrus.NewEntry(l)
	}
	cl := &Cloud{
		log:      log.WithField("component", "nova"),
		clk:      o.clk,
		attempts: o.attempts,
		backoff:  o.backoff,
	}
	for _, s := range []string{c.Password, c.Token} {
		if s != "" {
			cl.secrets = append(cl.secrets, s)
		}
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Token != "":
		if c.Endpoint == "" {
			return nil, &conf.Error{Section: "nova", Key: "endpoint", Err: errors.New("required with token (the compute endpoint, e.g. http://nova:8774/v2.1)")}
		}
		pc := &gophercloud.ProviderClient{HTTPClient: *hc}
		pc.UseTokenLock()
		pc.SetToken(c.Token)
		cl.sc = &gophercloud.ServiceClient{
			ProviderClient: pc,
			Endpoint:       gophercloud.NormalizeURL(c.Endpoint),
			Type:           "compute",
		}
	case c.AuthURL != "":
		if c.Username == "" {
			return nil, &conf.Error{Section: "nova", Key: "username", Err: errors.New("required with auth_url")}
		}
		pc, err := openstack.NewClient(c.AuthURL)
		if err != nil {
			return nil, &conf.Error{Section: "nova", Key: "auth_url", Err: cl.scrub(err)}
		}
		pc.HTTPClient = *hc
		ao := gophercloud.AuthOptions{
			IdentityEndpoint: c.AuthURL,
			Username:         c.Username,
			Password:         c.Password,
			DomainName:       orDefault(c.UserDomainName, "Default"),
			AllowReauth:      true,
		}
		if c.ProjectName != "" {
			ao.Scope = &gophercloud.AuthScope{ProjectName: c.ProjectName, DomainName: orDefault(c.ProjectDomainName, "Default")}
		}
		err = cl.retry(ctx, "keystone login", true, func(ctx context.Context) error {
			return openstack.Authenticate(ctx, pc, ao)
		})
		if err != nil {
			return nil, cl.translate(fmt.Sprintf("keystone login at %s as %s", c.AuthURL, c.Username), err)
		}
		eo := gophercloud.EndpointOpts{Region: c.RegionName, Availability: availability(c.Interface)}
		sc, err := openstack.NewComputeV2(pc, eo)
		if err != nil {
			return nil, fmt.Errorf("compute endpoint in the keystone catalog (region %q, interface %q): %w", c.RegionName, eo.Availability, cl.scrub(err))
		}
		if c.Endpoint != "" {
			sc.Endpoint = gophercloud.NormalizeURL(c.Endpoint)
		}
		cl.sc = sc
	default:
		return nil, &conf.Error{Section: "nova", Key: "auth_url", Err: errors.New("set auth_url (with username and password) or token and endpoint")}
	}
	cl.sc.Type = "compute" // the microversion header is only sent for this type
	cl.sc.Microversion = Microversion
	cl.log.WithField("endpoint", cl.sc.Endpoint).Debug("nova client ready")
	return cl, nil
}

// Endpoint returns the compute endpoint in use.
func (c *Cloud) Endpoint() string { return c.sc.Endpoint }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func availability(iface string) gophercloud.Availability {
	switch strings.TrimSuffix(strings.ToLower(iface), "url") {
	case "internal":
		return gophercloud.AvailabilityInternal
	case "admin":
		return gophercloud.AvailabilityAdmin
	default:
		return gophercloud.AvailabilityPublic
	}
}

func httpClient(c conf.Nova) (*http.Client, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
	tr.MaxIdleConns = max(tr.MaxIdleConns, 2*maxIdleConnsPerHost)
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.Insecure} //nolint:gosec // operator's choice ([nova] insecure)
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &conf.Error{Section: "nova", Key: "cafile", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &conf.Error{Section: "nova", Key: "cafile", Err: fmt.Errorf("%s: no PEM certificate found", c.CAFile)}
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	return &http.Client{Transport: waitingTransport{tr}, Timeout: timeout}, nil
}

// waitingTransport tells a pool of clock.Each in a request's context that
// the request waits for Nova (clock.Waiting), so that a host's evacuations
// run in parallel while Nova answers.
type waitingTransport struct{ base http.RoundTripper }

func (t waitingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	clock.Waiting(req.Context())
	return t.base.RoundTrip(req)
}
