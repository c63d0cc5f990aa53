package conf

import (
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// FencingPrefix starts the name of a host's fencing section:
// [fencing:compute1] holds the fence agent and its options for compute1.
const FencingPrefix = "fencing:"

// Fencing is [fencing] and the [fencing:HOST] sections.
type Fencing struct {
	// Required (required, default true) makes fence_host_task fail for a
	// host without a [fencing:HOST] section; false lets it pass such a host
	// unfenced (something else, such as Pacemaker, fences it).
	Required bool
	// Timeout (timeout, default 60 s) bounds one run of a fence agent; a
	// hung agent is killed with its process group.
	Timeout time.Duration
	// AgentDir (agent_dir, default /usr/sbin) is where an agent named
	// without a slash is looked up.
	AgentDir string
	// Hosts are the [fencing:HOST] sections by host name.
	Hosts map[string]FenceHost
}

// FenceHost is one [fencing:HOST] section.
type FenceHost struct {
	Host string
	Pos  Pos // the section header
	// Agent is the fence agent: a name looked up in AgentDir, or a path
	// (resolved against the file's directory) when it holds a slash.
	Agent    string
	AgentPos Pos
	// PasswordFile (password_file) names a file whose first line is sent
	// to the agent as its password, read each time the agent runs.
	PasswordFile    string
	PasswordFilePos Pos
	// Options are the agent's own options, passed through on its stdin,
	// sorted by key.
	Options []FenceOption
}

// FenceOption is one option of a fence agent, as written.
type FenceOption struct {
	Key   string
	Value string
	Pos   Pos
}

// Section returns the name of the host's section, for errors.
func (h FenceHost) Section() string { return FencingPrefix + h.Host }

// kaifuku's own keys of a [fencing:HOST] section; every other key is the
// agent's.
const (
	fenceAgentKey        = "agent"
	fencePasswordFileKey = "password_file"
)

// takeFencing moves the [fencing:HOST] sections out of c.Sections into
// c.Fencing.Hosts.
func (c *Config) takeFencing() []error {
	var errs []error
	fail := func(p Pos, section, key, msg string) {
		errs = append(errs, &Error{Pos: p, Section: section, Key: key, Err: errors.New(msg)})
	}
	names := make([]string, 0, len(c.Sections))
	for n := range c.Sections {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasPrefix(strings.ToLower(name), FencingPrefix) {
			continue
		}
		s := c.Sections[name]
		delete(c.Sections, name)
		h := FenceHost{Host: name[len(FencingPrefix):], Pos: s.Pos}
		if h.Host == "" {
			fail(s.Pos, name, "", "no host name: write [fencing:HOST], HOST as Nova names the compute host")
			continue
		}
		if _, dup := c.Fencing.Hosts[h.Host]; dup {
			fail(s.Pos, name, "", "host "+h.Host+" has a fencing section already (section names differ only in case)")
			continue
		}
		for key, val := range s.Values {
			p := s.KeyPos[key]
			val = strings.TrimSpace(val)
			// The agent reads one key=value a line: a line break would
			// smuggle in another option.
			if strings.ContainsAny(val, "\r\n") {
				fail(p, name, key, "must be one line (the agent reads one option a line)")
				continue
			}
			switch key {
			case fenceAgentKey:
				h.Agent, h.AgentPos = val, p
				if strings.Contains(val, "/") {
					h.Agent = resolve(filepath.Dir(p.File), val)
				}
			case fencePasswordFileKey:
				h.PasswordFile, h.PasswordFilePos = resolve(filepath.Dir(p.File), val), p
			default:
				h.Options = append(h.Options, FenceOption{Key: key, Value: val, Pos: p})
			}
		}
		if h.Agent == "" {
			fail(s.Pos, name, fenceAgentKey, "missing: name the fence agent, e.g. agent = fence_ipmilan")
		}
		sort.Slice(h.Options, func(i, j int) bool { return h.Options[i].Key < h.Options[j].Key })
		if c.Fencing.Hosts == nil {
			c.Fencing.Hosts = map[string]FenceHost{}
		}
		c.Fencing.Hosts[h.Host] = h
	}
	return errs
}
