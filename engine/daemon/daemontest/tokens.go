package daemontest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tokens of the file WithNewTokens writes: an admin's and a member's.
const (
	NewToken    = "new-token-1"
	MemberToken = "viewer-token"
)

// WithNewTokens writes, in dir, a token file of NewToken and MemberToken
// (role member) and returns the configuration cfg with [api] token_file
// naming it: what a reload that replaces the token file reads.
func WithNewTokens(t testing.TB, dir, cfg string) string {
	t.Helper()
	path := filepath.Join(dir, "other-tokens")
	if err := os.WriteFile(path, []byte("# operators\n"+NewToken+"\n"+MemberToken+" member\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(cfg, "[api]\n", "[api]\ntoken_file = "+path+"\n", 1)
}

// CheckNewTokens checks that the daemon answers with the token file of
// WithNewTokens: the client's own (old) token is refused, the member token
// is forbidden the v1 API and NewToken is let in.
func (c API) CheckNewTokens() {
	c.T.Helper()
	for _, w := range []struct {
		who, token string
		code       int
	}{{"old token", c.Token, 401}, {"member token", MemberToken, 403}, {"new token", NewToken, 200}} {
		c.Token = w.token
		if code := c.Call("GET", "/v1/segments", nil, nil); code != w.code {
			c.T.Errorf("%s after the reload: %d, want %d", w.who, code, w.code)
		}
	}
}
