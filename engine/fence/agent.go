package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// Exit statuses of the fence agents.
const (
	exitOK  = 0 // success; for status: the power is on
	exitOff = 2 // status only: the power is off
)

// maxStderr bounds what is kept of an agent's standard error (its end,
// where the reason of a failure is).
const maxStderr = 8 << 10

// Agents fences the hosts of the [fencing:HOST] sections with their fence
// agents.
type Agents struct {
	timeout time.Duration
	devices map[string]device
}

// device is one host's agent and options.
type device struct {
	host         string
	agent        string // as configured, for messages
	path         string
	options      []conf.FenceOption
	passwordFile string
}

// NewAgents returns the fencer of the hosts c configures.
func NewAgents(c conf.Fencing) *Agents {
	a := &Agents{timeout: c.Timeout, devices: map[string]device{}}
	if a.timeout <= 0 {
		a.timeout = time.Minute
	}
	for name, h := range c.Hosts {
		a.devices[name] = device{host: name, agent: h.Agent, path: agentPath(c.AgentDir, h.Agent),
			options: h.Options, passwordFile: h.PasswordFile}
	}
	return a
}

// agentPath is where an agent is: a path as it is, a bare name in dir.
func agentPath(dir, agent string) string {
	if strings.Contains(agent, "/") {
		return agent
	}
	return filepath.Join(dir, agent)
}

// Has reports whether host has a fencing section.
func (a *Agents) Has(host string) bool {
	_, ok := a.devices[host]
	return ok
}

func (a *Agents) device(host string) (device, error) {
	d, ok := a.devices[host]
	if !ok {
		return device{}, fmt.Errorf("host %q: %w (add a [fencing:%s] section)", host, ErrNotConfigured, host)
	}
	return d, nil
}

// Status runs the host's agent with action=status.
func (a *Agents) Status(ctx context.Context, host string) (Power, error) {
	d, err := a.device(host)
	if err != nil {
		return PowerUnknown, err
	}
	code, err := a.run(ctx, d, "status")
	switch {
	case err != nil:
		return PowerUnknown, err
	case code == exitOK:
		return PowerOn, nil
	default: // run returns exitOff or an error
		return PowerOff, nil
	}
}

// Off runs the host's agent with action=off; the agent polls the status
// until it reads off, so exit status 0 confirms it.
func (a *Agents) Off(ctx context.Context, host string) error {
	d, err := a.device(host)
	if err != nil {
		return err
	}
	_, err = a.run(ctx, d, "off")
	return err
}

// run runs the agent once with action and returns its exit status: 0, or
// exitOff for status; any other outcome is an error that names the host,
// the agent and the reason the agent gave, with every secret masked.
func (a *Agents) run(ctx context.Context, d device, action string) (int, error) {
	stdin, secrets, err := d.stdin(action)
	if err != nil {
		return 0, fmt.Errorf("fence host %q: %w", d.host, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, a.timeout, errAgentTimeout)
	defer cancel()
	stderr := &tail{max: maxStderr}
	cmd := exec.CommandContext(ctx, d.path)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stderr = stderr
	cmd.Env = agentEnv()
	inGroup(cmd)
	runErr := cmd.Run()
	what := fmt.Sprintf("fence agent %s (%s) for host %q", d.agent, action, d.host)
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, errAgentTimeout) {
			return 0, fmt.Errorf("%s did not finish within %v and was killed", what, a.timeout)
		}
		return 0, fmt.Errorf("%s: %w", what, cause)
	}
	code := 0
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			return 0, fmt.Errorf("%s: %s", what, mask(runErr.Error(), secrets))
		}
		code = ee.ExitCode()
	}
	if code == exitOK || action == "status" && code == exitOff {
		return code, nil
	}
	reason := mask(failureReason(stderr.String()), secrets)
	if reason == "" {
		reason = "no reason given"
	}
	return code, fmt.Errorf("%s failed (exit status %d): %s", what, code, reason)
}

var errAgentTimeout = errors.New("fence agent timed out")

// stdin is what the agent reads: action first, then the options, then the
// password of password_file. secrets are the values to mask in its output.
func (d device) stdin(action string) ([]byte, []string, error) {
	var b bytes.Buffer
	var secrets []string
	fmt.Fprintf(&b, "action=%s\n", action)
	for _, o := range d.options {
		fmt.Fprintf(&b, "%s=%s\n", o.Key, o.Value)
		if isSecret(o.Key) && o.Value != "" {
			secrets = append(secrets, o.Value)
		}
	}
	if d.passwordFile != "" {
		pw, err := readPassword(d.passwordFile)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&b, "password=%s\n", pw)
		secrets = append(secrets, pw)
	}
	return b.Bytes(), secrets, nil
}

// readPassword returns the first line of a password file.
func readPassword(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("password_file %s: %w", path, err)
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimRight(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("password_file %s: the first line is empty", path)
	}
	return pw, nil
}

// isSecret reports whether an agent option holds a secret: a password, a
// key (IPMI's Kg, an API key), a secret or a token.
func isSecret(key string) bool {
	k := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	for _, s := range []string{"passw", "secret", "token", "key", "_kg"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// mask replaces every secret in s.
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

// failureReason picks the agent's own message from its standard error: the
// last line that reports an error, else the last line. Warnings (Python's
// DeprecationWarning, for one) are not reasons.
func failureReason(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if j := strings.Index(l, "ERROR: "); j >= 0 {
			return l[j+len("ERROR: "):]
		}
		if strings.HasPrefix(l, "Failed") {
			return l
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.Contains(l, "Warning") {
			return l
		}
	}
	return ""
}

// agentEnv is the agent's environment: kaifuku's, without Pacemaker's
// marker (with it the agents switch their own timeouts off), and with
// Python's deprecation warnings silenced.
func agentEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "PCMK_service=") || strings.HasPrefix(e, "PYTHONWARNINGS=") {
			continue
		}
		env = append(env, e)
	}
	return append(env, "PYTHONWARNINGS=ignore::DeprecationWarning")
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }
