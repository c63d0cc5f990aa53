package conf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Parsers of option values. Their errors show the value, so they are never
// used on secrets.

func parseInt(s string, minimum int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	if n < minimum {
		return 0, fmt.Errorf("must be at least %d, got %d", minimum, n)
	}
	return n, nil
}

// maxDuration bounds every duration option: a longer wait, interval or
// timeout is a typo, and a bound keeps the arithmetic on it from overflowing.
const maxDuration = 365 * 24 * time.Hour

// parseSeconds reads a whole number of seconds, as Masakari's options are.
func parseSeconds(s string, minimum int) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	if n < int64(minimum) {
		return 0, fmt.Errorf("must be at least %d, got %s", minimum, strings.TrimSpace(s))
	}
	return boundSeconds(n, strings.TrimSpace(s))
}

// boundSeconds turns n seconds (written as text) into a duration no longer
// than maxDuration.
func boundSeconds(n int64, text string) (time.Duration, error) {
	if max := int64(maxDuration / time.Second); n > max {
		return 0, fmt.Errorf("must be at most %d seconds (365 days), got %s", max, text)
	}
	return time.Duration(n) * time.Second, nil
}

// parseDuration reads kaifuku's own durations: whole seconds like Masakari's
// options, or a Go duration such as 1m30s or 500ms.
func parseDuration(s string, minimum time.Duration) (time.Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if n, ierr := strconv.ParseInt(t, 10, 64); ierr == nil || errors.Is(ierr, strconv.ErrRange) {
		if n < -int64(maxDuration/time.Second) {
			return 0, fmt.Errorf("must be at least %v, got %s seconds", minimum, t)
		}
		if d, err = boundSeconds(n, t); err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, fmt.Errorf("invalid duration %q (seconds, or a duration such as 90s, 1m30s or 500ms)", s)
	}
	if d > maxDuration {
		return 0, fmt.Errorf("must be at most %v (365 days), got %v", maxDuration, d)
	}
	if d < minimum {
		return 0, fmt.Errorf("must be at least %v, got %v", minimum, d)
	}
	return d, nil
}

// Spelling names a set of words for true and false. OpenStack has two on
// purpose: options and the words Masakari reads from requests and Nova.
type Spelling int

const (
	// OptionWords are oslo.config's booleans: true/yes/on/1 and
	// false/no/off/0 (options, and config values Lua tasks read).
	OptionWords Spelling = iota
	// StrutilsWords are oslo's strutils.bool_from_string: OptionWords and
	// t/y, f/n (API query parameters and bodies, Nova metadata).
	StrutilsWords
)

// ParseBool reads s, in any case and with surrounding blanks, as a word of
// the spelling; ok is false when s is neither true nor false.
func ParseBool(s string, sp Spelling) (value, ok bool) {
	w := strings.ToLower(strings.TrimSpace(s))
	switch w {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	case "t", "y":
		return true, sp == StrutilsWords
	case "f", "n":
		return false, sp == StrutilsWords
	}
	return false, false
}

// parseBool reads oslo.config's booleans.
func parseBool(s string) (bool, error) {
	if v, ok := ParseBool(s, OptionWords); ok {
		return v, nil
	}
	return false, fmt.Errorf("invalid boolean %q (use true or false; yes/no, on/off and 1/0 work too)", s)
}

func parseChoice(s string, choices ...string) (string, error) {
	t := strings.TrimSpace(s)
	for _, c := range choices {
		if t == c {
			return c, nil
		}
	}
	return "", fmt.Errorf("invalid value %q (one of: %s)", s, strings.Join(choices, ", "))
}

func parsePort(s string) (int, error) {
	n, err := parseInt(s, 1)
	if err != nil {
		return 0, err
	}
	if n > 65535 {
		return 0, fmt.Errorf("port %d is out of range (1-65535)", n)
	}
	return n, nil
}

// parseHostPort reads host:port ([v6]:port); the host may be empty (all
// addresses).
func parseHostPort(s string) (string, error) {
	t := strings.TrimSpace(s)
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		return "", fmt.Errorf("invalid address %q (write host:port, e.g. 127.0.0.1:15868 or [::1]:15868)", s)
	}
	if _, err := parsePort(port); err != nil {
		return "", fmt.Errorf("invalid address %q: %w", s, err)
	}
	return net.JoinHostPort(host, port), nil
}

// parseHosts reads a comma list of host or host:port.
func parseHosts(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		h := strings.TrimSpace(f)
		if h == "" {
			continue
		}
		if strings.Contains(h, "@") {
			return nil, errors.New("invalid host: user information is not allowed (write host or host:port)")
		}
		if strings.ContainsAny(h, "/ \t\n") {
			return nil, fmt.Errorf("invalid host %q (write host or host:port, without a scheme or path)", h)
		}
		if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") && strings.Count(h, ":") == 1 {
			if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
				return nil, fmt.Errorf("invalid host %q (write host or host:port)", h)
			} else if _, err := parsePort(port); err != nil {
				return nil, fmt.Errorf("invalid host %q: %w", h, err)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// parseURL reads an http(s) URL. The message shows the URL without its
// user information, which may hold a password.
func parseURL(s string) (string, error) {
	t := strings.TrimSpace(s)
	u, err := url.Parse(t)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if err == nil && u.Opaque == "" {
			// Shown without user information, which may hold a password.
			u.User = nil
			return "", fmt.Errorf("invalid URL %q (write http://host:port/path or https://...)", u.String())
		}
		return "", errors.New("invalid URL (write http://host:port/path or https://...)")
	}
	return t, nil
}

// resolve makes a path absolute against dir (the directory of the file
// that set it).
func resolve(dir, p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// parseConnection reads [database] connection: sqlite:///relative/path,
// sqlite:////absolute/path (SQLAlchemy's spelling, as in masakari.conf) or a
// postgres:// or postgresql:// URL. Relative SQLite paths resolve against
// dir. The message never shows the URL (it may hold a password).
func parseConnection(dir, s string) (string, error) {
	t := strings.TrimSpace(s)
	scheme, rest, ok := strings.Cut(t, "://")
	switch {
	case !ok:
		return "", fmt.Errorf("invalid connection: expected sqlite:///PATH or postgresql://USER@HOST/DB")
	case scheme == "sqlite":
		if !strings.HasPrefix(rest, "/") || len(rest) < 2 {
			return "", fmt.Errorf("invalid SQLite connection: write sqlite:///relative/path or sqlite:////absolute/path")
		}
		path, _, _ := strings.Cut(rest[1:], "?")
		return "sqlite:///" + resolve(dir, path), nil
	case scheme == "postgres" || scheme == "postgresql":
		return t, nil
	}
	return "", fmt.Errorf("unsupported database %q: kaifuku keeps its state in SQLite (sqlite:///PATH) or PostgreSQL (postgresql://...); when this is Masakari's own database, set [database] connection in a kaifuku file given after it (later files override earlier ones)", scheme)
}

// SQLitePath returns the file of a sqlite:// connection.
func (d Database) SQLitePath() (string, bool) {
	p, ok := strings.CutPrefix(d.Connection, "sqlite:///")
	return p, ok
}

// Postgres reports whether the connection is a PostgreSQL URL.
func (d Database) Postgres() bool {
	return strings.HasPrefix(d.Connection, "postgres://") || strings.HasPrefix(d.Connection, "postgresql://")
}
