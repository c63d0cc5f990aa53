package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "tokens")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := readTokens(write("# operators\n\nadmin-token\n  viewer member  \n"))
	if err != nil || len(got) != 2 || got["admin-token"] != "admin" || got["viewer"] != "member" {
		t.Fatalf("tokens %v, %v", got, err)
	}
	p := write("ok\na b c\n")
	if _, err := readTokens(p); err == nil || !strings.HasPrefix(err.Error(), p+":2: want a token and an optional role") {
		t.Errorf("three fields: %v", err)
	}
	if _, err := readTokens(write("# nothing\n")); err == nil || !strings.Contains(err.Error(), "no token in the file") {
		t.Errorf("no token: %v", err)
	}
	if _, err := readTokens(filepath.Join(dir, "absent")); err == nil || !strings.HasPrefix(err.Error(), "[api] token_file: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestEnsureTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state", "tokens")
	created, err := ensureTokenFile(p)
	if err != nil || !created {
		t.Fatalf("first call: created %v, %v", created, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	tokens, err := readTokens(p)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("created file reads as %v, %v", tokens, err)
	}
	if created, err := ensureTokenFile(p); err != nil || created {
		t.Fatalf("second call: created %v, %v", created, err)
	}
}

func TestEndpointURLAndShellQuote(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:15868":  "http://127.0.0.1:15868/v1",
		"[::]:15868":     "http://127.0.0.1:15868/v1",
		"10.0.0.5:80":    "http://10.0.0.5:80/v1",
		"[fd00::1]:8080": "http://[fd00::1]:8080/v1",
		"no-port":        "http://no-port/v1",
	} {
		if got := endpointURL(listen); got != want {
			t.Errorf("endpointURL(%q) = %q, want %q", listen, got, want)
		}
	}
	if got := shellQuote("/etc/kaifuku/tokens"); got != "/etc/kaifuku/tokens" {
		t.Errorf("plain path quoted: %s", got)
	}
	if got := shellQuote("/srv/it's here"); got != `'/srv/it'\''s here'` {
		t.Errorf("quoted: %s", got)
	}
}

// A token file other users may read or write is refused, as ssh refuses
// such a private key, and the message says how to fix it.
func TestTokenFileMustBePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte("secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := readTokens(p)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("permissions %04o", mode)) || !strings.Contains(err.Error(), "chmod 600 "+p) {
			t.Errorf("mode %04o: %v", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret-token") {
			t.Errorf("mode %04o: the message shows the token: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := readTokens(p); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
}
