package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
)

// benchDaemon starts kaifuku serve with a 20-host cloud and a disabled
// segment holding every host: notifications are accepted and stored durably
// (SQLite, WAL, synchronous=FULL), and the engine ends each as "ignored"
// (one claim and one status write), so the figures are the API's and the
// store's.
func benchDaemon(b *testing.B) (*daemonProc, []string) {
	b.Helper()
	return benchDaemonOn(b, "")
}

// benchDaemonOn is benchDaemon on a given database (empty: a SQLite file).
func benchDaemonOn(b *testing.B, connection string) (*daemonProc, []string) {
	b.Helper()
	var hosts []string
	var fx strings.Builder
	fx.WriteString(`{"hosts": [`)
	for i := 0; i < 20; i++ {
		h := fmt.Sprintf("compute%02d", i)
		hosts = append(hosts, h)
		if i > 0 {
			fx.WriteString(",")
		}
		fmt.Fprintf(&fx, `{"name": %q, "state": "up"}`, h)
	}
	fx.WriteString(`]}`)
	extra := ""
	if connection != "" {
		extra = "[database]\nconnection = " + connection + "\n"
	}
	env := daemontest.NewEnv(b, fx.String(), extra)
	d := startServe(b, env)
	d.Segment("bench", false, hosts...)
	return d, hosts
}

func postNotification(client *http.Client, url, token, host string) (int, error) {
	body := fmt.Sprintf(`{"notification": {"type": "VM", "hostname": %q, "generated_time": %q, "payload": {"event": "LIFECYCLE", "instance_uuid": %q, "vir_domain_event": "STOPPED_FAILED"}}}`,
		host, time.Now().UTC().Format("2006-01-02T15:04:05.000000"), uuid.NewString())
	req, _ := http.NewRequest("POST", url+"/v1/notifications", bytes.NewReader([]byte(body)))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// BenchmarkServeAcceptNotifications posts VM notifications over loopback
// HTTP from 16 concurrent clients to a kaifuku serve subprocess. Each 202 is
// sent after the notification is committed. Reports accepted/s and the p50
// and p99 latency of POST /v1/notifications.
func BenchmarkServeAcceptNotifications(b *testing.B) {
	benchAccept(b, benchDaemon)
}

// BenchmarkServeAcceptNotificationsPostgres is the same on a PostgreSQL
// database (the throw-away test cluster: fsync off, so the figure is the
// daemon's and the protocol's, not a disk's).
func BenchmarkServeAcceptNotificationsPostgres(b *testing.B) {
	benchAccept(b, func(b *testing.B) (*daemonProc, []string) { return benchDaemonOn(b, pgtest.Database(b)) })
}

func benchAccept(b *testing.B, startDaemon func(*testing.B) (*daemonProc, []string)) {
	d, hosts := startDaemon(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	var failed int
	var n int
	b.SetParallelism(8) // 8 x GOMAXPROCS clients
	if out := os.Getenv("KAIFUKU_BENCH_CPUPROFILE"); out != "" {
		// The daemon's CPU profile of the first 3 s of the run.
		go func() {
			req, _ := http.NewRequest("GET", d.URL+"/debug/pprof/profile?seconds=3", nil)
			req.Header.Set("X-Auth-Token", d.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			os.WriteFile(out, data, 0o600)
		}()
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		bad := 0
		i := 0
		for pb.Next() {
			t0 := time.Now()
			code, err := postNotification(client, d.URL, d.Token, hosts[i%len(hosts)])
			mine = append(mine, time.Since(t0))
			if err != nil || code != 202 {
				bad++
			}
			i++
		}
		mu.Lock()
		lat = append(lat, mine...)
		failed += bad
		n += len(mine)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d of %d posts were not accepted", failed, n)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)]) / float64(time.Millisecond) }
	b.ReportMetric(float64(n)/elapsed.Seconds(), "accepted/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkServeRSS1000 stores 1,000 notifications (which the engine
// processes) and reports the daemon's resident memory afterwards; the timed
// loop lists notifications.
func BenchmarkServeRSS1000(b *testing.B) {
	d, hosts := benchDaemon(b)
	client := &http.Client{}
	for i := 0; i < 1000; i++ {
		if code, err := postNotification(client, d.URL, d.Token, hosts[i%len(hosts)]); err != nil || code != 202 {
			b.Fatalf("post %d: %d %v", i, code, err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", d.URL+"/v1/notifications?limit=100", nil)
		req.Header.Set("X-Auth-Token", d.Token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(rssKiB(b, d.cmd.Process.Pid))/1024, "RSS-MiB")
}

func rssKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
