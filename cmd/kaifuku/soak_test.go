//go:build soak

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// The chaos soak: go test -tags soak -run TestSoak ./cmd/kaifuku
// (-soak.duration=1h or KAIFUKU_SOAK_DURATION=1h for a long one).
var soakDuration = flag.Duration("soak.duration", 0, "how long the soak sends notifications (default $KAIFUKU_SOAK_DURATION, else 2m)")

func soakTime(t *testing.T) time.Duration {
	if *soakDuration > 0 {
		return *soakDuration
	}
	if v := os.Getenv("KAIFUKU_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("KAIFUKU_SOAK_DURATION: %v", err)
		}
		return d
	}
	return 2 * time.Minute
}

// soakFinal is the log line of a notification's final status (the
// periodic retry logs its own too, which is not counted).
var soakFinal = regexp.MustCompile(`msg="Notification ([0-9a-f-]{36}) exits with status: (finished|ignored|failed)\.`)

// soakEngine is one `kaifuku serve` of the soak, restarted after each kill.
type soakEngine struct {
	env   *daemontest.Env
	mu    sync.Mutex
	proc  *daemonProc
	token string
	logs  []string // the logs of its previous lives
}

func (e *soakEngine) current() *daemonProc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.proc
}

// kill SIGKILLs the engine and starts it again.
func (e *soakEngine) kill(t *testing.T) {
	e.mu.Lock()
	p := e.proc
	e.proc = nil
	e.mu.Unlock()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	e.logs = append(e.logs, p.log())
	np := startServe(t, e.env)
	e.mu.Lock()
	e.proc = np
	e.mu.Unlock()
}

func (e *soakEngine) allLogs() string {
	return strings.Join(append(slices.Clone(e.logs), e.current().log()), "\n")
}

// soakStats are the API's answers during the soak.
type soakStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	codes     map[string]map[int]int // kind of request -> status -> count
	accepted  []string               // notification ids answered 202
}

func (s *soakStats) add(kind string, code int, d time.Duration, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	if s.codes[kind] == nil {
		s.codes[kind] = map[int]int{}
	}
	s.codes[kind][code]++
	if id != "" {
		s.accepted = append(s.accepted, id)
	}
}

func (s *soakStats) percentile(p float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	return l[int(p*float64(len(l)-1))]
}

// post sends one notification body to an engine, whatever state it is in.
func soakPost(url, token string, body []byte) (int, string, time.Duration, error) {
	req, _ := http.NewRequest("POST", url+"/v1/notifications", bytes.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := shortClient.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	var out struct {
		Notification struct {
			UUID string `json:"notification_uuid"`
		} `json:"notification"`
	}
	json.Unmarshal(data, &out)
	return resp.StatusCode, out.Notification.UUID, took, nil
}

// scrape reads a gauge of an engine's /metrics.
func scrape(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := shortClient.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s/metrics has no %s", url, name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestSoak runs three engines on PostgreSQL against `kaifuku simcloud` with
// Nova faults injected now and then (409, 500, an action that never
// completes), sends a stream of host, VM and process notifications (a tenth
// malformed, some duplicates, some oversized) round the engines, and
// SIGKILLs engine 1 or 2 at random moments, restarting it. Then every
// accepted notification must reach a final status, no server untouched by a
// fault may be evacuated, stopped or started twice, no server may be left
// locked, every malformed body must get 400, every duplicate 409 and every
// oversized body 413, and engine 0 (never killed) must not have grown in
// goroutines or memory. It prints the API's p50/p99 latency and the
// notifications per second.
func TestSoak(t *testing.T) {
	duration := soakTime(t)
	bed := newMultiBed(t)
	fx, sim, sqldb := bed.fx, bed.sim, bed.db
	const maxBody = 16 << 10
	var engines []*soakEngine
	for i := range 3 {
		env := bed.engineEnv(i, fmt.Sprintf(`[DEFAULT]
process_unfinished_notifications_interval = 2
retry_notification_new_status_interval = 2
wait_period_after_evacuation = 30
wait_period_after_power_off = 30
wait_period_after_power_on = 30
[api]
workers = 4
grace_period = 5
max_body_bytes = %d
[database]
lease_seconds = 3
[host_failure]
force_down_service = true
`, maxBody))
		e := &soakEngine{env: env, proc: startServe(t, env)}
		e.token = e.proc.Token
		engines = append(engines, e)
	}

	d0 := engines[0].current()
	var s struct {
		Segment struct {
			UUID string `json:"uuid"`
		} `json:"segment"`
	}
	d0.At("1.2").MustCall("POST", "/v1/segments", map[string]any{"segment": map[string]any{
		"name": "soak", "recovery_method": "auto", "service_type": "COMPUTE", "enabled": true}}, 201, &s)
	hosts := append(append(fx.hosts("h", 1, 30), fx.hosts("q", 1, 12)...), fx.hosts("k", 1, 6)...)
	for _, h := range append(slices.Clone(hosts), fx.hosts("s", 1, 6)...) {
		d0.MustCall("POST", "/v1/segments/"+s.Segment.UUID+"/hosts", map[string]any{"host": map[string]any{
			"name": h, "type": "COMPUTE", "control_attributes": "SSH"}}, 201, nil)
	}

	// Warm up engine 0, then take its baseline.
	time.Sleep(2 * time.Second)
	baseGoroutines := scrape(t, d0.URL, "go_goroutines")
	baseHeap := scrape(t, d0.URL, "go_memstats_heap_inuse_bytes")

	stats := &soakStats{codes: map[string]map[int]int{}}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	faulted := map[string]bool{} // servers a fault was aimed at
	var allServers []string
	for _, h := range hosts {
		allServers = append(allServers, fx.servers[h]...)
	}
	failedHosts := map[string]bool{}
	vmSent := map[string]bool{}
	start := time.Now()
	nextKill := start.Add(time.Duration(5+rng.IntN(10)) * time.Second)
	kills := 0
	seq := 0
	for time.Since(start) < duration {
		seq++
		e := engines[seq%3]
		p := e.current()
		gen := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
		var body []byte
		kind := "valid"
		switch r := rng.IntN(100); {
		case r < 10: // malformed: broken JSON, wrong types, unknown type
			kind = "malformed"
			body = [][]byte{[]byte(`{"notification": {"type": "VM", `), []byte(`{"notification": {"type": 7}}`),
				[]byte(`{"notification": {"type": "NOPE", "hostname": "h01", "generated_time": "` + gen + `", "payload": {}}}`),
				[]byte(`[[[[[[[[[[[[[[[[[[[[`), []byte("{\"notification\": \"\xff\xfe\"}")}[rng.IntN(5)]
		case r < 13: // oversized
			kind = "oversized"
			body = []byte(`{"notification": {"type": "VM", "hostname": "h01", "generated_time": "` + gen +
				`", "payload": {"event": "LIFECYCLE", "pad": "` + strings.Repeat("x", maxBody) + `"}}}`)
		case r < 18 && len(failedHosts) < len(hosts)/2: // a host fails for real
			h := hosts[rng.IntN(len(hosts))]
			if failedHosts[h] {
				continue
			}
			failedHosts[h] = true
			simPost(t, sim+"/sim/hosts/"+h+"/fail")
			body, _ = json.Marshal(map[string]any{"notification": map[string]any{"type": "COMPUTE_HOST", "hostname": h,
				"generated_time": gen, "payload": map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}}})
		case r < 30:
			h := hosts[rng.IntN(len(hosts))]
			body, _ = json.Marshal(map[string]any{"notification": map[string]any{"type": "PROCESS", "hostname": h,
				"generated_time": gen, "payload": map[string]string{"event": "STARTED", "process_name": fmt.Sprintf("proc-%d", seq)}}})
		default: // a VM event; each server fails at most once
			id := allServers[rng.IntN(len(allServers))]
			ev, vir := "LIFECYCLE", fmt.Sprintf("STARTED_BOOTED_%d", seq) // ignored by the engine
			if !vmSent[id] && rng.IntN(3) == 0 {
				vmSent[id] = true
				vir = "STOPPED_FAILED"
			}
			h := hosts[rng.IntN(len(hosts))]
			body, _ = json.Marshal(map[string]any{"notification": map[string]any{"type": "VM", "hostname": h,
				"generated_time": gen, "payload": map[string]string{"event": ev, "vir_domain_event": vir, "instance_uuid": id}}})
		}
		code, id, took, err := soakPost(p.URL, e.token, body)
		if err != nil {
			continue // the engine is being killed
		}
		stats.add(kind, code, took, id)
		if kind == "valid" && code == 202 && rng.IntN(20) == 0 {
			other := engines[(seq+1)%3]
			if code, _, took, err := soakPost(other.current().URL, other.token, body); err == nil {
				stats.add("duplicate", code, took, "")
			}
		}
		if rng.IntN(40) == 0 { // a Nova fault, aimed at one server
			id := allServers[rng.IntN(len(allServers))]
			faulted[id] = true
			f, _ := json.Marshal(map[string]any{"op": []string{"evacuate", "stop", "start", "get_server", "lock"}[rng.IntN(5)],
				"server": id, "error": []string{"conflict", "unavailable", "never"}[rng.IntN(3)], "count": 1})
			if resp, err := shortClient.Post(sim+"/sim/faults", "application/json", bytes.NewReader(f)); err == nil {
				resp.Body.Close()
			}
		}
		if time.Now().After(nextKill) {
			engines[1+rng.IntN(2)].kill(t)
			kills++
			nextKill = time.Now().Add(time.Duration(5+rng.IntN(15)) * time.Second)
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	}
	sending := time.Since(start)

	// Every accepted notification reaches a final status.
	accepted := stats.accepted
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var open int
		if err := sqldb.QueryRow(`SELECT COUNT(*) FROM notifications WHERE status NOT IN ('finished', 'ignored', 'failed', 'error')`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications not final 3 minutes after the stream ended", open)
		}
		time.Sleep(time.Second)
	}
	drained := time.Since(start)
	var stored int
	if err := sqldb.QueryRow(`SELECT COUNT(*) FROM notifications`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(accepted) {
		t.Errorf("%d notifications answered 202, %d stored", len(accepted), stored)
	}

	for kind, want := range map[string]int{"malformed": 400, "duplicate": 409, "oversized": 413} {
		for code, n := range stats.codes[kind] {
			if code != want {
				t.Errorf("%d %s bodies answered %d, want %d", n, kind, code, want)
			}
		}
	}
	for code, n := range stats.codes["valid"] {
		if code != 202 && code != 409 { // 409: a host already under maintenance
			t.Errorf("%d valid notifications answered %d", n, code)
		}
	}

	// Nova: no server no fault was aimed at evacuated twice from one host
	// (it may move again when its new host fails too), stopped or started
	// twice unless its host failed (a stop refused while it is rebuilding
	// counts too); nothing left locked.
	var counters struct {
		Servers map[string]map[string]int `json:"servers"`
	}
	getJSON(t, sim+"/sim/counters", &counters)
	var snap struct {
		Servers []struct {
			ID     string `json:"id"`
			Host   string `json:"host"`
			Locked bool   `json:"locked"`
		} `json:"servers"`
		Migrations []struct {
			Server string `json:"instance_uuid"`
			Source string `json:"source_compute"`
			Status string `json:"status"`
		} `json:"migrations"`
	}
	getJSON(t, sim+"/sim/snapshot", &snap)
	evacuated := map[[2]string]int{}
	onFailedHost := map[string]bool{}
	for _, m := range snap.Migrations {
		onFailedHost[strings.ToLower(m.Server)] = true
		if m.Status != "error" && m.Status != "failed" && !faulted[m.Server] {
			evacuated[[2]string{m.Server, m.Source}]++
		}
	}
	for k, n := range evacuated {
		if n > 1 {
			t.Errorf("server %s evacuated %d times from %s", k[0], n, k[1])
		}
	}
	for _, id := range allServers {
		if faulted[id] || onFailedHost[strings.ToLower(id)] {
			continue
		}
		for _, op := range []string{"stop", "start"} {
			if n := counters.Servers[strings.ToLower(id)][op]; n > 1 {
				t.Errorf("server %s: %s called %d times", id, op, n)
			}
		}
	}
	for _, sv := range snap.Servers {
		if sv.Locked {
			t.Errorf("server %s (on %s) left locked", sv.ID, sv.Host)
		}
	}

	// Engine 0 did not grow.
	time.Sleep(3 * time.Second)
	goroutines := scrape(t, d0.URL, "go_goroutines")
	heap := scrape(t, d0.URL, "go_memstats_heap_inuse_bytes")
	if goroutines > baseGoroutines+20 {
		t.Errorf("engine 0 has %v goroutines after the soak, %v before", goroutines, baseGoroutines)
	}
	if heap > 2*baseHeap+64<<20 {
		t.Errorf("engine 0 uses %.0f MB of heap after the soak, %.0f MB before", heap/(1<<20), baseHeap/(1<<20))
	}

	// No notification reached a final status twice, whichever engines ran
	// it (error is not final: the periodic task retries it, as Masakari
	// does).
	ended := map[string]int{}
	for _, e := range engines {
		for _, m := range soakFinal.FindAllStringSubmatch(e.allLogs(), -1) {
			ended[m[1]]++
		}
	}
	for id, n := range ended {
		if n > 1 {
			t.Errorf("notification %s reached a final status %d times", id, n)
		}
	}
	t.Logf("soak: %s of stream, %d engine kills; %d notifications accepted (%.1f/s accepted, %.1f/s recovered to a final status); "+
		"API latency p50 %s, p99 %s; answers %v; engine 0: %v -> %v goroutines, %.1f -> %.1f MB heap",
		sending.Round(time.Second), kills, len(accepted), float64(len(accepted))/sending.Seconds(), float64(len(accepted))/drained.Seconds(),
		stats.percentile(0.5).Round(time.Microsecond), stats.percentile(0.99).Round(time.Microsecond), stats.codes,
		baseGoroutines, goroutines, baseHeap/(1<<20), heap/(1<<20))
}
