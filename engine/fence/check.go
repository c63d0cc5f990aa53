package fence

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// maxMetadata bounds an agent's metadata (fence_ipmilan's is 8 KB).
const maxMetadata = 1 << 20

// Metadata is what an agent's -o metadata says about it.
type Metadata struct {
	Name    string
	Params  []string // option names, as its stdin takes them
	Actions []string
}

type metadataXML struct {
	Name   string `xml:"name,attr"`
	Params []struct {
		Name string `xml:"name,attr"`
	} `xml:"parameters>parameter"`
	Actions []struct {
		Name string `xml:"name,attr"`
	} `xml:"actions>action"`
}

// ReadMetadata runs the agent at path with -o metadata (no secret is
// involved) and parses its answer.
func ReadMetadata(ctx context.Context, path string, timeout time.Duration) (Metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out, stderr tail
	out.max, stderr.max = maxMetadata+1, maxStderr
	cmd := exec.CommandContext(ctx, path, "-o", "metadata")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = agentEnv()
	inGroup(cmd)
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return Metadata{}, fmt.Errorf("%s -o metadata did not answer within %v", path, timeout)
	case err != nil:
		reason := failureReason(stderr.String())
		if reason == "" {
			reason = err.Error()
		}
		return Metadata{}, fmt.Errorf("%s -o metadata failed: %s (is it a fence agent?)", path, reason)
	case len(out.buf) > maxMetadata:
		return Metadata{}, fmt.Errorf("%s -o metadata: more than %d bytes", path, maxMetadata)
	}
	var x metadataXML
	if err := xml.NewDecoder(bytes.NewReader(out.buf)).Decode(&x); err != nil {
		return Metadata{}, fmt.Errorf("%s -o metadata: not a fence agent's metadata: %v", path, err)
	}
	m := Metadata{Name: x.Name}
	for _, p := range x.Params {
		m.Params = append(m.Params, normalKey(p.Name))
	}
	for _, a := range x.Actions {
		m.Actions = append(m.Actions, a.Name)
	}
	if len(m.Params) == 0 {
		return Metadata{}, fmt.Errorf("%s -o metadata: lists no parameters; not a fence agent's metadata", path)
	}
	return m, nil
}

func (m Metadata) has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalKey is the agents' spelling of an option: they take "-" and "_"
// alike.
func normalKey(k string) string { return strings.ReplaceAll(strings.TrimSpace(k), "-", "_") }

// Check verifies every [fencing:HOST] section against its agent: the agent
// exists and answers -o metadata with an off and a status action, every key
// is one of its options, action is left to kaifuku, and a password_file is
// readable. Every problem is returned, each a *conf.Error with the file and
// line. Each agent runs once however many hosts use it.
func Check(ctx context.Context, c conf.Fencing) error {
	var errs []error
	fail := func(p conf.Pos, h conf.FenceHost, key string, err error) {
		errs = append(errs, &conf.Error{Pos: p, Section: h.Section(), Key: key, Err: err})
	}
	hosts := make([]string, 0, len(c.Hosts))
	for h := range c.Hosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	type answer struct {
		md  Metadata
		err error
	}
	cache := map[string]answer{}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	for _, name := range hosts {
		h := c.Hosts[name]
		path := agentPath(c.AgentDir, h.Agent)
		a, ok := cache[path]
		if !ok {
			if err := agentExists(path); err != nil {
				a.err = err
			} else {
				a.md, a.err = ReadMetadata(ctx, path, timeout)
			}
			cache[path] = a
		}
		if a.err != nil {
			fail(h.AgentPos, h, "agent", a.err)
			continue
		}
		for _, act := range []string{"off", "status"} {
			if !a.md.has(a.md.Actions, act) {
				fail(h.AgentPos, h, "agent", fmt.Errorf("%s has no %s action; fencing needs off and status", h.Agent, act))
			}
		}
		password := false
		for _, o := range h.Options {
			k := normalKey(o.Key)
			switch {
			case k == "action" || k == "option":
				fail(o.Pos, h, o.Key, errors.New("kaifuku sets the action (status, off); remove it"))
			case !a.md.has(a.md.Params, k):
				fail(o.Pos, h, o.Key, unknownOption(h.Agent, k, a.md.Params))
			case k == "password" || k == "passwd" || k == "password_script" || k == "passwd_script":
				password = true
			}
		}
		if h.PasswordFile != "" {
			if password {
				fail(h.PasswordFilePos, h, "password_file", errors.New("give the password once: password_file, password or password_script"))
			} else if _, err := readPassword(h.PasswordFile); err != nil {
				fail(h.PasswordFilePos, h, "password_file", errors.New(strings.TrimPrefix(err.Error(), "password_file ")))
			}
		}
	}
	// In the order of the file, as conf reports its own problems.
	sort.SliceStable(errs, func(i, j int) bool {
		pi, pj := errs[i].(*conf.Error).Pos, errs[j].(*conf.Error).Pos
		if pi.File != pj.File {
			return pi.File < pj.File
		}
		return pi.Line < pj.Line
	})
	return errors.Join(errs...)
}

// agentExists checks that path is an executable file, naming the nearest
// fence agent of its directory when it is not there.
func agentExists(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		msg := fmt.Sprintf("fence agent %s not found", path)
		if near := nearAgents(path); len(near) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", near[0])
		} else if filepath.Dir(path) == "/usr/sbin" {
			msg += " (Debian and Ubuntu ship the agents in the fence-agents package)"
		}
		return errors.New(msg)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("fence agent %s is not an executable file", path)
	}
	return nil
}

func nearAgents(path string) []string {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "fence_*"))
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = filepath.Base(m)
	}
	return conf.Closest(filepath.Base(path), names, 1, conf.Loose)
}

func unknownOption(agent, key string, params []string) error {
	msg := fmt.Sprintf("not an option of %s (it would ignore it)", agent)
	if near := conf.Closest(key, params, 1, conf.Loose); len(near) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", near[0])
	}
	return errors.New(msg)
}
