package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/api"
	"github.com/kaifuku-ha/kaifuku/engine/keystone"
	"github.com/kaifuku-ha/kaifuku/engine/policy"
)

// keystoneAuth is the Keystone validator as the API's authenticator.
type keystoneAuth struct {
	cfg conf.Keystone
	v   *keystone.Validator
}

func (k *keystoneAuth) Authenticate(ctx context.Context, token string) (policy.Credentials, error) {
	id, err := k.v.Validate(ctx, token)
	switch {
	case errors.Is(err, keystone.ErrInvalidToken):
		return policy.Credentials{}, api.ErrUnauthenticated
	case err != nil:
		return policy.Credentials{}, fmt.Errorf("%w: %v", api.ErrAuthUnavailable, err)
	}
	return policy.Credentials{UserID: id.UserID, ProjectID: id.ProjectID, UserDomainID: id.UserDomainID,
		ProjectDomainID: id.ProjectDomainID, Roles: id.Roles}, nil
}

// sameKeystone tells whether two [keystone_authtoken] sections validate
// alike (then a reload keeps the validator and its cache).
func sameKeystone(a, b conf.Keystone) bool {
	a.Unused, b.Unused = nil, nil
	a.WWWAuthenticateURI, b.WWWAuthenticateURI = "", ""
	a.RegionName, b.RegionName = "", ""
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// apiSettings builds the API's settings of cfg. prev is the running
// Keystone authenticator, kept when [keystone_authtoken] did not change;
// the one in use is returned.
func apiSettings(cfg *conf.Config, prev *keystoneAuth, log *logrus.Logger) (api.Settings, *keystoneAuth, error) {
	s := api.Settings{AuthStrategy: cfg.API.AuthStrategy, DuplicateWindow: cfg.Engine.DuplicateNotificationDetectionInterval,
		MaxBodyBytes: cfg.API.MaxBodyBytes, WWWAuthenticate: cfg.Keystone.WWWAuthenticateURI}
	if cfg.API.AuthStrategy == "noauth" {
		return s, nil, nil
	}
	pol, err := loadPolicy(cfg.Policy.File)
	if err != nil {
		return s, nil, err
	}
	s.Policy = pol
	var chain api.FirstOf
	if usesTokenFile(cfg) {
		tokens, err := readTokens(cfg.API.TokenFile)
		if err != nil {
			return s, nil, err
		}
		s.Tokens = tokens
		chain = append(chain, api.StaticTokens(tokens))
	}
	var ks *keystoneAuth
	if cfg.API.AuthStrategy == "keystone" {
		if prev != nil && sameKeystone(prev.cfg, cfg.Keystone) {
			ks = prev
		} else {
			v, err := keystone.New(cfg.Keystone, logrus.NewEntry(log), nil)
			if err != nil {
				return s, nil, err
			}
			ks = &keystoneAuth{cfg: cfg.Keystone, v: v}
		}
		chain = append(chain, ks)
	}
	s.Auth = chain
	return s, ks, nil
}

// loadPolicy reads the policy file when it exists, else Masakari's
// defaults.
func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(), nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return policy.Default(), nil
	}
	p, err := policy.Load(path)
	if err != nil {
		return nil, fmt.Errorf("[oslo_policy] policy_file: %w", err)
	}
	return p, nil
}

// describeAuth is the start-up log's account of authentication and policy.
func describeAuth(cfg *conf.Config, s api.Settings) []string {
	var lines []string
	switch cfg.API.AuthStrategy {
	case "keystone":
		k := cfg.Keystone
		l := fmt.Sprintf("auth: Keystone tokens, validated at %s as %s (project %s", k.AuthURL, k.Username, k.ProjectName)
		if k.RegionName != "" {
			l += ", region " + k.RegionName
		}
		l += fmt.Sprintf("), cached %s", k.TokenCacheTime)
		if cfg.API.AcceptTokenFile {
			l += "; the tokens of " + cfg.API.TokenFile + " are accepted too"
		}
		lines = append(lines, l)
		if len(k.Unused) > 0 {
			lines = append(lines, "[keystone_authtoken]: kaifuku does not use "+strings.Join(k.Unused, ", "))
		}
	case "token":
		lines = append(lines, "auth: the tokens of "+cfg.API.TokenFile)
	}
	if s.Policy != nil {
		if s.Policy.Source != "" {
			lines = append(lines, fmt.Sprintf("policy: %s overrides %s", s.Policy.Source, strings.Join(s.Policy.Overridden, ", ")))
		} else {
			lines = append(lines, "policy: Masakari's defaults (no file at "+orNone(cfg.Policy.File)+")")
		}
	}
	return lines
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
