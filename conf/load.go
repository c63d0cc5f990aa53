package conf

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultStateDir is [DEFAULT] state_dir when no file sets it.
const DefaultStateDir = "/var/lib/kaifuku"

// Defaults returns the configuration of an empty file set: Masakari's
// defaults for its options, kaifuku's for its own.
func Defaults() *Config {
	c := &Config{
		StateDir: DefaultStateDir,
		Flows:    DefaultFlows(),
		Engine: Engine{
			DuplicateNotificationDetectionInterval: 180 * time.Second,
			WaitPeriodAfterServiceUpdate:           180 * time.Second,
			WaitPeriodAfterEvacuation:              90 * time.Second,
			VerifyInterval:                         1 * time.Second,
			WaitPeriodAfterPowerOff:                180 * time.Second,
			WaitPeriodAfterPowerOn:                 60 * time.Second,
			ProcessUnfinishedNotificationsInterval: 120 * time.Second,
			RetryNotificationNewStatusInterval:     60 * time.Second,
			CheckExpiredNotificationsInterval:      600 * time.Second,
			NotificationsExpiredInterval:           86400 * time.Second,
			HostFailureRecoveryThreads:             3,
		},
		HostFailure: HostFailure{
			EvacuateAllInstances:         true,
			HAEnabledInstanceMetadataKey: "HA_Enabled",
			ServiceDisableReason:         "Masakari detected host failed.",
		},
		StormGuard:      StormGuard{Window: 600 * time.Second},
		InstanceFailure: InstanceFailure{HAEnabledInstanceMetadataKey: "HA_Enabled"},
		ProcessFailure:  ProcessFailure{ServiceDisableReason: "Masakari detected process failed."},
		Lua: Lua{
			ScriptsDir:     defaultScriptsDir(nil),
			TaskTimeout:    30 * time.Second,
			MemoryLimitMiB: 256,
		},
		SMTP: SMTP{Host: "localhost", Port: 25, From: "kaifuku@localhost", Timeout: 30 * time.Second},
		API: API{
			Listen:        "127.0.0.1:15868",
			AuthStrategy:  "token",
			MaxBodyBytes:  1 << 20,
			WorkerCount:   4,
			GracePeriod:   30 * time.Second,
			ClientTimeout: time.Minute,
		},
		Compute: Compute{Driver: "simulated"},
		Nova: Nova{
			UserDomainName:    "Default",
			ProjectDomainName: "Default",
			Interface:         "public",
			Timeout:           60 * time.Second,
		},
		Keystone: Keystone{
			AuthType:           "password",
			UserDomainName:     "Default",
			ProjectDomainName:  "Default",
			TokenCacheTime:     300 * time.Second,
			HTTPConnectTimeout: 10 * time.Second,
		},
		Database: Database{LeaseSeconds: 60 * time.Second},
		Fencing:  Fencing{Required: true, Timeout: 60 * time.Second, AgentDir: "/usr/sbin"},
		Sections: map[string]Section{},
	}
	c.deriveFromStateDir(nil)
	return c
}

// deriveFromStateDir fills the defaults that live under state_dir unless
// set is true for them.
func (c *Config) deriveFromStateDir(set map[[2]string]setting) {
	if _, ok := set[[2]string{"api", "token_file"}]; !ok {
		c.API.TokenFile = filepath.Join(c.StateDir, "tokens")
	}
	if _, ok := set[[2]string{"database", "connection"}]; !ok {
		c.Database.Connection = "sqlite:///" + filepath.Join(c.StateDir, "kaifuku.db")
	}
}

// source is one file to read.
type source struct {
	name string
	data []byte
	err  error
}

// Load reads the files in order; a later file overrides the options an
// earlier one sets, as oslo.config's repeated --config-file does. With no
// file it returns Defaults. All problems of all files are returned, joined,
// each an *Error, together with the partial configuration: every option
// that parsed, the default wherever one did not, so that a check can go on
// to the scripts and flows and report their problems in the same run. A
// caller that runs the configuration must refuse it when the error is not
// nil.
func Load(files ...string) (*Config, error) {
	srcs := make([]source, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		srcs[i] = source{name: f, data: data, err: err}
	}
	return load(srcs)
}

// Parse reads one file held in memory; name is used in positions and to
// resolve relative paths. Like Load, it returns the partial configuration
// with its errors.
func Parse(name string, data []byte) (*Config, error) {
	return load([]source{{name: name, data: data}})
}

func load(srcs []source) (*Config, error) {
	c := Defaults()
	var errs []error
	var files []rawFile
	for _, s := range srcs {
		c.Files = append(c.Files, s.name)
		if s.err != nil {
			errs = append(errs, &Error{Pos: Pos{File: s.name}, Err: fmt.Errorf("cannot read the file: %w", unwrapPath(s.err))})
			continue
		}
		rf, e := readINI(s.name, s.data)
		errs = append(errs, e...)
		files = append(files, rf)
	}
	if len(c.Files) > 0 {
		c.Lua.ScriptsDir = defaultScriptsDir(c.Files)
		c.Policy.File = resolve(filepath.Dir(c.Files[0]), "policy.yaml")
	}

	// Merge: the last file setting an option wins.
	set := map[[2]string]setting{}
	for _, rf := range files {
		dir := filepath.Dir(rf.name)
		for _, h := range rf.sections {
			if _, owned := ownedSection(h.name); owned {
				continue
			}
			if _, ok := c.Sections[h.name]; !ok {
				c.Sections[h.name] = Section{Name: h.name, Pos: h.pos, Values: map[string]string{}, KeyPos: map[string]Pos{}}
			}
		}
		for _, e := range rf.entries {
			def, owned := ownedSection(e.section)
			if !owned {
				s := c.Sections[e.section]
				s.Values[e.key] = e.val.s
				s.KeyPos[e.key] = e.pos
				continue
			}
			if _, ok := def.option(e.key); !ok {
				if err := checkUnknown(def, e.key); err != nil {
					errs = append(errs, &Error{Pos: e.pos, Section: def.name, Key: e.key, Err: err})
				} else {
					c.noteUnused(def.name, e)
				}
				continue
			}
			set[[2]string{def.name, e.key}] = setting{entry: e, dir: dir}
		}
	}

	errs = append(errs, c.takeFencing()...)

	// Typed options, section by section.
	fail := func(v setting, section, key string, err error) {
		errs = append(errs, &Error{Pos: v.pos, Section: section, Key: key, Err: err})
	}
	for _, def := range sectionDefs {
		for _, o := range def.opts {
			if v, ok := set[[2]string{def.name, o.name}]; ok {
				if err := c.apply(o, v); err != nil {
					fail(v, def.name, o.name, err)
				}
			}
		}
	}
	c.deriveFromStateDir(set)
	for _, k := range FlowKinds {
		v, ok := set[[2]string{FlowSection, k.Option()}]
		if !ok {
			continue
		}
		spec, ferrs := parseFlowValue(k, v.pos, v.val)
		if len(ferrs) > 0 {
			errs = append(errs, ferrs...)
			continue
		}
		c.Flows[k] = spec
	}
	// keystoneAt is where the files first configure [keystone_authtoken]
	// (File is empty when they do not).
	var keystoneAt Pos
	rank := func(p Pos) [2]int { return [2]int{slices.Index(c.Files, p.File), p.Line} }
	earlier := func(p Pos) {
		if a, b := rank(p), rank(keystoneAt); keystoneAt.File == "" || a[0] < b[0] || a[0] == b[0] && a[1] < b[1] {
			keystoneAt = p
		}
	}
	for k, v := range set {
		if k[0] == KeystoneSection {
			earlier(v.pos)
		}
	}
	for _, u := range c.Unused {
		if u.Section == KeystoneSection {
			earlier(u.Pos)
		}
	}
	errs = append(errs, c.applyAliases(set, keystoneAt)...)
	if v, ok := set[[2]string{"compute", "driver"}]; ok && c.Compute.Driver == "nova" && c.Nova.AuthURL == "" && c.Nova.Endpoint == "" {
		fail(v, "compute", "driver", errors.New("the nova driver needs [nova] auth_url (or Masakari's [DEFAULT] os_privileged_user_auth_url), or [nova] token and endpoint"))
	}

	if len(errs) > 0 {
		sortErrors(errs, c.Files)
		return c, errors.Join(errs...)
	}
	return c, nil
}

// apply sets option o from v. When the value does not parse, c keeps its
// default, so that the partial configuration Load returns with its errors
// holds no half-parsed value.
func (c *Config) apply(o option, v setting) error {
	next := *c
	if err := o.set(&next, v); err != nil {
		return err
	}
	*c = next
	return nil
}

// noteUnused records a key of a lenient section that kaifuku does not read
// (once, however many files set it).
func (c *Config) noteUnused(section string, e entry) {
	for _, u := range c.Unused {
		if u.Section == section && u.Key == e.key {
			return
		}
	}
	c.Unused = append(c.Unused, UnusedOption{Pos: e.pos, Section: section, Key: e.key})
	if section == KeystoneSection {
		c.Keystone.Unused = append(c.Keystone.Unused, e.key)
	}
}

// applyAliases lets Masakari's [DEFAULT] options fill [nova] and [api] where
// those sections do not set the option themselves.
func (c *Config) applyAliases(set map[[2]string]setting, keystoneAt Pos) []error {
	var errs []error
	names := make([]string, 0, len(aliases))
	for a := range aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		v, ok := set[[2]string{"DEFAULT", a}]
		target := aliases[a]
		if _, overridden := set[target]; !ok || overridden {
			continue
		}
		def, _ := ownedSection(target[0])
		o, _ := def.option(target[1])
		if err := c.apply(o, v); err != nil {
			errs = append(errs, &Error{Pos: v.pos, Section: "DEFAULT", Key: a, Err: err})
		}
	}
	if _, ok := set[[2]string{"api", "listen"}]; !ok {
		h, hok := set[[2]string{"DEFAULT", aliasListen}]
		p, pok := set[[2]string{"DEFAULT", aliasListenPort}]
		if hok || pok {
			host, port := "127.0.0.1", 15868
			if hok {
				host = strings.Trim(h.s(), "[]")
			}
			if pok {
				n, err := parsePort(p.s())
				if err != nil {
					errs = append(errs, &Error{Pos: p.pos, Section: "DEFAULT", Key: aliasListenPort, Err: err})
				} else {
					port = n
				}
			}
			c.API.Listen = net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
	errs = append(errs, c.apiCertificate(set)...)
	return append(errs, c.authStrategy(set, keystoneAt)...)
}

// apiCertificate takes Masakari's [ssl] cert_file and key_file (with
// [DEFAULT] use_ssl) when [api] sets no certificate, and requires the
// certificate and its key together.
func (c *Config) apiCertificate(set map[[2]string]setting) []error {
	if c.API.CertFile == "" && c.API.KeyFile == "" && c.SSL.UseSSL {
		c.API.CertFile, c.API.KeyFile = c.SSL.CertFile, c.SSL.KeyFile
		if c.API.CertFile == "" || c.API.KeyFile == "" {
			v := set[[2]string{"DEFAULT", "use_ssl"}]
			return []error{&Error{Pos: v.pos, Section: "DEFAULT", Key: "use_ssl", Err: errors.New("true needs [ssl] cert_file and key_file (or [api] cert_file and key_file)")}}
		}
		return nil
	}
	for _, k := range [][2]string{{"cert_file", "key_file"}, {"key_file", "cert_file"}} {
		if v, ok := set[[2]string{"api", k[0]}]; ok && v.s() != "" {
			if w, ok := set[[2]string{"api", k[1]}]; !ok || w.s() == "" {
				return []error{&Error{Pos: v.pos, Section: "api", Key: k[0], Err: fmt.Errorf("needs [api] %s as well", k[1])}}
			}
		}
	}
	return nil
}

// authStrategy decides [api] auth_strategy: [api] wins; else Masakari's
// [DEFAULT] auth_strategy (keystone, noauth2, or kaifuku's token); else
// keystone when the files configure [keystone_authtoken] (a masakari.conf
// relying on Masakari's default) and the static token file when they do
// not (kaifuku serve with no configuration).
func (c *Config) authStrategy(set map[[2]string]setting, keystoneAt Pos) []error {
	v, fromDefault := set[[2]string{"DEFAULT", aliasAuth}]
	if _, ok := set[[2]string{"api", "auth_strategy"}]; !ok {
		switch {
		case fromDefault:
			s, err := parseChoice(v.s(), "keystone", "noauth2", "token")
			if err != nil {
				return []error{&Error{Pos: v.pos, Section: "DEFAULT", Key: aliasAuth, Err: err}}
			}
			c.API.AuthStrategy = map[string]string{"keystone": "keystone", "noauth2": "noauth", "token": "token"}[s]
		case keystoneAt.File != "":
			c.API.AuthStrategy = "keystone"
		}
	}
	if c.API.AuthStrategy == "keystone" && c.Keystone.AuthURL == "" {
		why := "the files configure [keystone_authtoken] and set no auth_strategy, so Masakari's default keystone applies"
		pos := keystoneAt
		if fromDefault {
			why, pos = "[DEFAULT] auth_strategy is keystone", v.pos
		}
		return []error{&Error{Pos: pos, Section: KeystoneSection, Key: "auth_url",
			Err: fmt.Errorf("required: %s (set auth_url to the identity v3 endpoint, e.g. http://keystone:5000/v3, or [DEFAULT] auth_strategy = token)", why)}}
	}
	if c.Keystone.WWWAuthenticateURI == "" {
		c.Keystone.WWWAuthenticateURI = c.Keystone.AuthURL
	}
	return nil
}

// checkUnknown decides about a key that is not an option of a section
// kaifuku owns.
func checkUnknown(def sectionDef, key string) error {
	if def.name == FlowSection {
		return unknownKey(key, flowOptions())
	}
	if !def.lenient {
		return unknownKey(key, def.names())
	}
	for _, f := range def.foreign {
		if f == key {
			return nil
		}
	}
	if c, ok := closest(key, def.names()); ok {
		return fmt.Errorf("unknown option; did you mean %q?", c)
	}
	return nil // an option of Masakari or an oslo library
}

// unwrapPath drops the file name from an *os.PathError (the position
// already names the file).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sortErrors orders problems by file (in reading order), line and column.
func sortErrors(errs []error, files []string) {
	index := map[string]int{}
	for i, f := range files {
		if _, ok := index[f]; !ok {
			index[f] = i
		}
	}
	key := func(e error) (int, int, int) {
		var ce *Error
		if errors.As(e, &ce) {
			return index[ce.Pos.File], ce.Pos.Line, ce.Pos.Col
		}
		return len(files), 0, 0
	}
	sort.SliceStable(errs, func(i, j int) bool {
		fi, li, ci := key(errs[i])
		fj, lj, cj := key(errs[j])
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		return ci < cj
	})
}

// Unclaimed returns the sorted names of the sections that kaifuku does not
// own and that are not named after one of tasks: oslo sections of a real
// masakari.conf, or settings of a task that does not exist.
func (c *Config) Unclaimed(tasks []string) []string {
	known := map[string]bool{}
	for _, t := range tasks {
		known[t] = true
	}
	var out []string
	for name := range c.Sections {
		if !known[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
