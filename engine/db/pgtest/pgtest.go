// Package pgtest runs a throw-away PostgreSQL cluster for tests: initdb and
// postgres from Debian's postgresql package (/usr/lib/postgresql/*/bin, or
// KAIFUKU_PG_BIN), in a temporary directory, on a free loopback port, with
// trust authentication and fsync off. One cluster serves a whole test
// binary: call Main from TestMain, and Database from each test that needs a
// database of its own.
//
// Without the binaries, tests skip; with CI set they fail instead, so that
// the PostgreSQL tests never silently vanish from a CI run.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// cluster is the test binary's one server.
type cluster struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan error
	err  error // why it could not start
	miss bool  // the binaries are missing
}

var (
	once  sync.Once
	c     cluster
	dbSeq atomic.Int64
)

// Main runs the tests and then stops and removes the cluster if one was
// started; use it as os.Exit(pgtest.Main(m)) in TestMain.
func Main(m *testing.M) int {
	defer stop()
	return m.Run()
}

// Database creates an empty database in the test binary's cluster and
// returns its connection URL (postgresql://...). Without PostgreSQL it skips
// the test, or fails it when CI is set.
func Database(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if c.err != nil {
		if c.miss && os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL tests skipped: %v", c.err)
		}
		t.Fatalf("PostgreSQL is required in CI (.ci/run installs the postgresql package): %v", c.err)
	}
	name := fmt.Sprintf("kt_%d_%d", os.Getpid(), dbSeq.Add(1))
	admin, err := sql.Open("pgx", c.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return c.url(name)
}

func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// binDir finds the directory of initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv("KAIFUKU_PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			return "", fmt.Errorf("KAIFUKU_PG_BIN=%s: no postgres binary there: %w", d, err)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return "", errors.New("no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin; install the postgresql package or set KAIFUKU_PG_BIN")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return found[0], nil
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func start() {
	bin, err := binDir()
	if err != nil {
		c.err, c.miss = err, true
		return
	}
	if c.err = c.startIn(bin); c.err != nil {
		stop()
	}
}

func (c *cluster) startIn(bin string) error {
	dir, err := os.MkdirTemp("", "kaifuku-pgtest-")
	if err != nil {
		return err
	}
	c.dir = dir
	cred, err := credential(dir)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	// The postmaster runs in the foreground as our child and gets SIGQUIT
	// if the test binary dies (a timeout panic, a kill): no server
	// outlives its tests.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	c.done = make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		// The parent-death signal is sent when the thread that started the
		// child exits: this goroutine keeps its thread until the server
		// has exited.
		runtime.LockOSThread()
		if err := c.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.done <- c.cmd.Wait()
	}()
	if err := <-started; err != nil {
		c.done = nil
		return fmt.Errorf("start postgres: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", c.url("postgres"))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case werr := <-c.done:
			c.done <- werr
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return fmt.Errorf("postgres exited: %v: %s", werr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30 s: %w", err)
		}
	}
}

// credential is who runs the server: initdb refuses root, so a root test
// runs it as the postgres user, owner of the temporary directory.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user (from the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// stop shuts the server down (fast shutdown, then kill) and removes its
// directory.
func stop() {
	if c.cmd != nil && c.cmd.Process != nil && c.done != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
		c.cmd = nil
	}
	if c.dir != "" && strings.Contains(c.dir, "kaifuku-pgtest-") {
		os.RemoveAll(c.dir)
		c.dir = ""
	}
}
