package daemon_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// dribble sends a POST whose body arrives one byte every 100 ms on a real
// connection and reports how long the server kept the connection open
// (cut off after limit).
func dribble(t *testing.T, addr, token string, limit time.Duration) time.Duration {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /v1/notifications HTTP/1.1\r\nHost: kaifuku\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
	if token != "" {
		head += "X-Auth-Token: " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n{"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // until the server closes the connection
		close(closed)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			return time.Since(start)
		case <-tick.C:
			if time.Since(start) > limit {
				return time.Since(start)
			}
			conn.Write([]byte(" ")) // fails once the server is gone; the reader sees it
		}
	}
}

// A client sending its body slowly is cut off after [api] client_timeout,
// with or without a token, instead of holding a connection (and a
// goroutine) for as long as it likes.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := withClientTimeout(t, newEnv(t, 10, ""))
	r := e.Start(t)
	addr := strings.TrimPrefix(r.URL, "http://")
	for _, token := range []string{"", r.Token} {
		if held := dribble(t, addr, token, 15*time.Second); held > 8*time.Second {
			t.Errorf("token %v: a body sent one byte per 100 ms held the connection for %v (client_timeout = 1s)", token != "", held)
		}
	}
}

// An idle keep-alive connection is closed after client_timeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	e := withClientTimeout(t, newEnv(t, 10, ""))
	r := e.Start(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: kaifuku\r\n\r\n")
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("GET /healthz: %q %v", status, err)
	}
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.Copy(io.Discard, br)
	if held := time.Since(start); err != nil || held > 8*time.Second {
		t.Errorf("an idle connection stayed open %v (client_timeout = 1s): %v", held, err)
	}
}

// withClientTimeout sets [api] client_timeout = 1 in e's configuration.
func withClientTimeout(t *testing.T, e *daemontest.Env) *daemontest.Env {
	t.Helper()
	b, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.Write(t, strings.Replace(string(b), "grace_period = 10\n", "grace_period = 10\nclient_timeout = 1\n", 1))
	return e
}
