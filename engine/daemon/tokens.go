package daemon

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// usesTokenFile tells whether cfg reads [api] token_file.
func usesTokenFile(cfg *conf.Config) bool {
	return cfg.API.AuthStrategy == "token" || (cfg.API.AuthStrategy == "keystone" && cfg.API.AcceptTokenFile)
}

// readTokens reads [api] token_file: one token per line, optionally
// followed by a role (default admin); blank lines and # comments skipped.
func readTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("[api] token_file: %w", err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return nil, err
	}
	tokens := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Fields(t)
		if len(fields) > 2 {
			return nil, fmt.Errorf("%s:%d: want a token and an optional role, got %d fields", path, line, len(fields))
		}
		role := "admin"
		if len(fields) == 2 {
			role = fields[1]
		}
		tokens[fields[0]] = role
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("[api] token_file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("[api] token_file %s: no token in the file", path)
	}
	return tokens, nil
}

// checkPrivate refuses a token file that users other than its owner may
// read or write, as ssh refuses such a private key: the tokens are the
// API's passwords.
func checkPrivate(f *os.File, path string) error {
	if runtime.GOOS == "windows" {
		return nil // no Unix permission bits to check
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("[api] token_file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("[api] token_file %s: permissions %04o let other users read or change the API tokens; "+
			"make it accessible to its owner only (chmod 600 %s)", path, perm, shellQuote(path))
	}
	return nil
}

// ensureTokenFile creates the token file with a random token when it does
// not exist; created reports whether it did.
func ensureTokenFile(path string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return false, fmt.Errorf("random token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(b)); err != nil {
		f.Close()
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	return true, f.Close()
}

// endpointURL is the API's URL for a client on this machine.
func endpointURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + "/v1"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/v1"
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$`\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
