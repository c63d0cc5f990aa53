// Package keystone validates users' tokens with Keystone v3 as
// keystonemiddleware does: kaifuku logs in with its own service user, asks
// GET /v3/auth/tokens with X-Subject-Token for every token it has not seen,
// and caches the answers.
//
// A confirmed token is trusted until the earlier of its expiry and the
// cache time; after the cache time it is asked again, and when Keystone
// cannot be reached then, it is still trusted until it expires, so that a
// Keystone outage does not lock out callers Keystone confirmed before. A
// refused token is remembered for a short time. A token never confirmed
// gets ErrUnavailable while Keystone cannot be reached.
package keystone

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// ErrInvalidToken is a token Keystone refuses (unknown, expired, revoked).
var ErrInvalidToken = errors.New("the token is not valid")

// ErrUnavailable is Keystone not answering, or refusing kaifuku's own
// login; the error wrapping it says why.
var ErrUnavailable = errors.New("keystone is unavailable")

// Identity is what Keystone says about a valid token.
type Identity struct {
	UserID, UserName, UserDomainID          string
	ProjectID, ProjectName, ProjectDomainID string
	Roles                                   []string
	ExpiresAt                               time.Time
}

// NegativeCacheTime is how long a refused token is remembered.
const NegativeCacheTime = 10 * time.Second

// maxEntries bounds the cache; expired entries are dropped first.
const maxEntries = 20000

// Validator validates tokens. It is safe for concurrent use.
type Validator struct {
	cfg    conf.Keystone
	log    *logrus.Entry
	now    func() time.Time
	client *gophercloud.ServiceClient
	opts   gophercloud.AuthOptions

	loginMu  sync.Mutex
	loggedIn bool

	group singleflight.Group
	mu    sync.Mutex
	cache map[[32]byte]entry
}

type entry struct {
	id    Identity
	err   error     // ErrInvalidToken for a refused token
	fresh time.Time // trusted without asking until then
}

// New prepares a validator of cfg; it does not reach Keystone (the login
// happens at the first validation). now is the clock (nil: time.Now).
func New(cfg conf.Keystone, log *logrus.Entry, now func() time.Time) (*Validator, error) {
	if cfg.AuthURL == "" {
		return nil, &conf.Error{Section: conf.KeystoneSection, Key: "auth_url", Err: errors.New("required")}
	}
	if cfg.Username == "" {
		return nil, &conf.Error{Section: conf.KeystoneSection, Key: "username", Err: errors.New("required: kaifuku's service user, allowed to validate tokens")}
	}
	if now == nil {
		now = time.Now
	}
	hc, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	pc, err := openstack.NewClient(cfg.AuthURL)
	if err != nil {
		return nil, &conf.Error{Section: conf.KeystoneSection, Key: "auth_url", Err: err}
	}
	pc.HTTPClient = *hc
	sc, err := openstack.NewIdentityV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, &conf.Error{Section: conf.KeystoneSection, Key: "auth_url", Err: err}
	}
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: cfg.AuthURL,
		Username:         cfg.Username,
		Password:         cfg.Password,
		AllowReauth:      true,
	}
	if cfg.UserDomainID != "" {
		ao.DomainID = cfg.UserDomainID
	} else {
		ao.DomainName = cfg.UserDomainName
	}
	if cfg.ProjectName != "" {
		ao.Scope = &gophercloud.AuthScope{ProjectName: cfg.ProjectName}
		if cfg.ProjectDomainID != "" {
			ao.Scope.DomainID = cfg.ProjectDomainID
		} else {
			ao.Scope.DomainName = cfg.ProjectDomainName
		}
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(nopWriter{})
		log = logrus.NewEntry(l)
	}
	return &Validator{cfg: cfg, log: log.WithField("component", "keystone"), now: now, client: sc, opts: ao,
		cache: map[[32]byte]entry{}}, nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func httpClient(cfg conf.Keystone) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // operator's choice ([keystone_authtoken] insecure)
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, &conf.Error{Section: conf.KeystoneSection, Key: "cafile", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &conf.Error{Section: conf.KeystoneSection, Key: "cafile", Err: fmt.Errorf("%s: no PEM certificate found", cfg.CAFile)}
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	timeout := cfg.HTTPConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// Validate returns the identity of a token: ErrInvalidToken when Keystone
// refuses it, an error wrapping ErrUnavailable when Keystone cannot say.
func (v *Validator) Validate(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrInvalidToken
	}
	key := sha256.Sum256([]byte(token))
	now := v.now()
	v.mu.Lock()
	e, cached := v.cache[key]
	v.mu.Unlock()
	if cached && now.Before(e.fresh) {
		if e.err != nil {
			return Identity{}, e.err
		}
		if now.Before(e.id.ExpiresAt) {
			return e.id, nil
		}
	}
	res, err, _ := v.group.Do(string(key[:]), func() (any, error) {
		return v.ask(context.WithoutCancel(ctx), token, key)
	})
	if errors.Is(err, ErrUnavailable) && cached && e.err == nil && now.Before(e.id.ExpiresAt) {
		v.log.Warnf("%v; trusting a token Keystone confirmed before until it expires at %s", err, e.id.ExpiresAt.UTC().Format(time.RFC3339))
		return e.id, nil
	}
	if err != nil {
		return Identity{}, err
	}
	return res.(Identity), nil
}

// ask validates with Keystone and caches the answer.
func (v *Validator) ask(ctx context.Context, token string, key [32]byte) (Identity, error) {
	if err := v.login(ctx); err != nil {
		return Identity{}, err
	}
	r := tokens.Get(ctx, v.client, token)
	if r.Err != nil {
		if gophercloud.ResponseCodeIs(r.Err, http.StatusNotFound) {
			v.store(key, entry{err: ErrInvalidToken, fresh: v.now().Add(NegativeCacheTime)})
			return Identity{}, ErrInvalidToken
		}
		return Identity{}, v.unavailable("validating a token", r.Err)
	}
	id, err := identity(r)
	if err != nil {
		return Identity{}, v.unavailable("reading Keystone's answer", err)
	}
	now := v.now()
	if !now.Before(id.ExpiresAt) {
		v.store(key, entry{err: ErrInvalidToken, fresh: now.Add(NegativeCacheTime)})
		return Identity{}, ErrInvalidToken
	}
	if v.cfg.TokenCacheTime >= 0 {
		fresh := now.Add(v.cfg.TokenCacheTime)
		if id.ExpiresAt.Before(fresh) {
			fresh = id.ExpiresAt
		}
		v.store(key, entry{id: id, fresh: fresh})
	}
	return id, nil
}

func identity(r tokens.GetResult) (Identity, error) {
	t, err := r.ExtractToken()
	if err != nil {
		return Identity{}, err
	}
	u, err := r.ExtractUser()
	if err != nil {
		return Identity{}, err
	}
	roles, err := r.ExtractRoles()
	if err != nil {
		return Identity{}, err
	}
	id := Identity{UserID: u.ID, UserName: u.Name, UserDomainID: u.Domain.ID, ExpiresAt: t.ExpiresAt}
	if p, err := r.ExtractProject(); err == nil && p != nil {
		id.ProjectID, id.ProjectName, id.ProjectDomainID = p.ID, p.Name, p.Domain.ID
	}
	for _, role := range roles {
		id.Roles = append(id.Roles, role.Name)
	}
	if id.ExpiresAt.IsZero() {
		return Identity{}, errors.New("the token has no expires_at")
	}
	return id, nil
}

// login gets kaifuku's own token once; gophercloud renews it when Keystone
// answers 401.
func (v *Validator) login(ctx context.Context) error {
	v.loginMu.Lock()
	defer v.loginMu.Unlock()
	if v.loggedIn {
		return nil
	}
	opts := v.opts
	if err := openstack.AuthenticateV3(ctx, v.client.ProviderClient, &opts, gophercloud.EndpointOpts{}); err != nil {
		return v.unavailable(fmt.Sprintf("logging in at %s as %s", v.cfg.AuthURL, v.cfg.Username), err)
	}
	v.loggedIn = true
	v.log.Infof("logged in at %s as %s (project %s)", v.cfg.AuthURL, v.cfg.Username, v.cfg.ProjectName)
	return nil
}

// unavailable wraps err as ErrUnavailable, without the password.
func (v *Validator) unavailable(what string, err error) error {
	msg := err.Error()
	if gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) || gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		msg += " (check [keystone_authtoken] username, password and project_name; the user needs the admin or service role to validate tokens)"
	}
	if v.cfg.Password != "" {
		msg = strings.ReplaceAll(msg, v.cfg.Password, "***")
	}
	return fmt.Errorf("%w: %s: %s", ErrUnavailable, what, msg)
}

func (v *Validator) store(key [32]byte, e entry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= maxEntries {
		now := v.now()
		for k, old := range v.cache {
			if (old.err != nil && !now.Before(old.fresh)) || (old.err == nil && !now.Before(old.id.ExpiresAt)) {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < maxEntries {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[key] = e
}
