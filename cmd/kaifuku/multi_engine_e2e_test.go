package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
)

// Three `kaifuku serve` processes on one PostgreSQL database, driving one
// `kaifuku simcloud` over real HTTP with the nova driver, taking API calls in
// turn. 300 notifications across 30 hosts, 12 of which really fail: every
// notification reaches its final status exactly once, no server is
// evacuated twice, no reserved host is handed to two failed hosts. Then one
// engine is SIGKILLed mid-run and the other two finish its notifications
// once its leases expire.
func TestMultiEngineOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a PostgreSQL cluster, a simcloud and three daemons")
	}
	bed := newMultiBed(t)
	fx, sim, sqldb := bed.fx, bed.sim, bed.db

	const lease = 3
	var engines []*daemonProc
	var owners []string
	for i := range 3 {
		env := bed.engineEnv(i, fmt.Sprintf(`[DEFAULT]
process_unfinished_notifications_interval = 2
retry_notification_new_status_interval = 2
[api]
workers = 4
grace_period = 5
[database]
lease_seconds = %d
[host_failure]
force_down_service = true
`, lease))
		d := startServe(t, env)
		m := regexp.MustCompile(`engine (kaifuku-[0-9a-f-]+)`).FindStringSubmatch(d.log())
		if m == nil || !strings.Contains(d.log(), "database postgresql") {
			t.Fatalf("engine %d does not say it runs on PostgreSQL as which engine:\n%s", i, d.log())
		}
		engines = append(engines, d)
		owners = append(owners, m[1])
	}

	// Segments through one engine; the others see them in the database.
	seg := func(d *daemonProc, name, method string, hosts []string, reserved []string) {
		var s struct {
			Segment struct {
				UUID string `json:"uuid"`
			} `json:"segment"`
		}
		d.At("1.2").MustCall("POST", "/v1/segments", map[string]any{"segment": map[string]any{
			"name": name, "recovery_method": method, "service_type": "COMPUTE", "enabled": true}}, 201, &s)
		add := func(h string, r bool) {
			d.MustCall("POST", "/v1/segments/"+s.Segment.UUID+"/hosts", map[string]any{"host": map[string]any{
				"name": h, "type": "COMPUTE", "control_attributes": "SSH", "reserved": r}}, 201, nil)
		}
		for _, h := range hosts {
			add(h, false)
		}
		for _, h := range reserved {
			add(h, true)
		}
	}
	seg(engines[0], "rh", "reserved_host", fx.hosts("h", 1, 6), fx.reserved)
	seg(engines[1], "auto", "auto", fx.hosts("h", 7, 30), nil)
	seg(engines[2], "later", "auto", append(fx.hosts("q", 1, 12), fx.hosts("k", 1, 6)...), nil)

	// Phase 1: hosts h01..h12 fail for real, then 300 notifications.
	for _, h := range fx.hosts("h", 1, 12) {
		simPost(t, sim+"/sim/hosts/"+h+"/fail")
	}
	type sent struct{ id, want, host string }
	var batch []sent
	next := 0
	send := func(typ, host string, payload map[string]string, want string) {
		d := engines[next%len(engines)]
		next++
		batch = append(batch, sent{d.Notify(typ, host, payload), want, host})
	}
	ignoredVM := func(host string, j int) {
		send("VM", host, map[string]string{"event": "LIFECYCLE", "vir_domain_event": fmt.Sprintf("STARTED_BOOTED_%d", j),
			"instance_uuid": fx.servers[host][j%2]}, "ignored")
	}
	vmEvents := [][2]string{{"LIFECYCLE", "STOPPED_FAILED"}, {"QEMU_GUEST_AGENT_ERROR", "STOPPED_FAILED"}, {"IO_ERROR", "IO_ERROR_REPORT"}}
	realVM := func(host string, j int) {
		ev := vmEvents[j%3]
		send("VM", host, map[string]string{"event": ev[0], "vir_domain_event": ev[1], "instance_uuid": fx.servers[host][j/3%2]}, "finished")
	}
	start := time.Now()
	for i := 1; i <= 30; i++ {
		h := fmt.Sprintf("h%02d", i)
		if i <= 12 {
			for j := range 5 {
				ignoredVM(h, j)
			}
			for j := range 4 {
				send("PROCESS", h, map[string]string{"event": "STARTED", "process_name": fmt.Sprintf("proc-%d", j)}, "finished")
			}
			send("COMPUTE_HOST", h, map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}, "finished")
			continue
		}
		for j := range 5 {
			realVM(h, j)
		}
		for j := range 4 {
			ignoredVM(h, j)
		}
		proc := "libvirtd"
		if i <= 16 {
			proc = "nova-compute"
		}
		send("PROCESS", h, map[string]string{"event": "STOPPED", "process_name": proc}, "finished")
	}
	if len(batch) != 300 {
		t.Fatalf("sent %d notifications", len(batch))
	}
	accepted := time.Since(start)
	waitTerminal(t, sqldb, len(batch), 150*time.Second)
	phase1 := time.Since(start)
	t.Logf("phase 1: 300 notifications accepted in %s, all final after %s (%.1f notifications/s)", accepted.Round(time.Millisecond), phase1.Round(time.Millisecond), 300/phase1.Seconds())

	for _, s := range batch {
		var status string
		if err := sqldb.QueryRow(`SELECT status FROM notifications WHERE notification_uuid = $1`, s.id).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status != s.want {
			t.Errorf("notification %s of %s: %s, want %s", s.id, s.host, status, s.want)
		}
	}
	logs := func() []string {
		var out []string
		for _, d := range engines {
			out = append(out, d.log())
		}
		return out
	}
	checkFinalOnce(t, logs(), batch[0].id, func(yield func(string) bool) {
		for _, s := range batch {
			if !yield(s.id) {
				return
			}
		}
	})
	checkHostSerial(t, sqldb)
	for i, d := range engines {
		if n := strings.Count(d.log(), "exits with status:"); n == 0 {
			t.Errorf("engine %d finished no notification: the work was not shared", i)
		}
	}

	// Evacuations: once per server of a failed host, never for the others;
	// each reserved host taken by one failed host at most.
	var snap struct {
		Servers    []struct{ ID, Host string } `json:"servers"`
		Migrations []struct {
			Server string `json:"instance_uuid"`
			Source string `json:"source_compute"`
			Dest   string `json:"dest_compute"`
		} `json:"migrations"`
	}
	var counters struct {
		Evacuations map[string]int `json:"evacuations"`
	}
	getJSON(t, sim+"/sim/counters", &counters)
	getJSON(t, sim+"/sim/snapshot", &snap)
	failed := map[string]bool{}
	for _, h := range fx.hosts("h", 1, 12) {
		failed[h] = true
	}
	for host, ids := range fx.servers {
		for _, id := range ids {
			want := 0
			if failed[host] {
				want = 1
			}
			if got := counters.Evacuations[id]; got != want {
				t.Errorf("server %s of %s evacuated %d times, want %d", id, host, got, want)
			}
		}
	}
	reserved := map[string]bool{}
	for _, r := range fx.reserved {
		reserved[r] = true
	}
	takenBy := map[string]string{} // reserved host -> failed host of the rh segment
	usedBy := map[string]string{}  // failed host of the rh segment -> reserved host
	for _, m := range snap.Migrations {
		if !strings.HasPrefix(m.Source, "h0") || m.Source > "h06" {
			continue
		}
		if !reserved[m.Dest] {
			t.Errorf("server %s of %s (reserved_host segment) went to %s, not a reserved host", m.Server, m.Source, m.Dest)
			continue
		}
		if prev, ok := takenBy[m.Dest]; ok && prev != m.Source {
			t.Errorf("reserved host %s handed to two failed hosts: %s and %s", m.Dest, prev, m.Source)
		}
		takenBy[m.Dest] = m.Source
		if prev, ok := usedBy[m.Source]; ok && prev != m.Dest {
			t.Errorf("failed host %s evacuated to two reserved hosts: %s and %s", m.Source, prev, m.Dest)
		}
		usedBy[m.Source] = m.Dest
	}
	if len(usedBy) != 6 {
		t.Errorf("reserved hosts used: %v, want one for each of h01..h06", usedBy)
	}
	for _, s := range snap.Servers {
		if failed[s.Host] {
			t.Errorf("server %s still on failed host %s", s.ID, s.Host)
		}
	}
	var locked int
	if err := sqldb.QueryRow(`SELECT COUNT(*) FROM locks WHERE released = 0`).Scan(&locked); err != nil || locked != 0 {
		t.Errorf("locks left held: %d %v", locked, err)
	}
	if t.Failed() {
		return
	}

	// Phase 2: one engine dies with notifications running.
	for _, h := range fx.hosts("k", 1, 6) {
		simPost(t, sim+"/sim/hosts/"+h+"/fail")
	}
	batch = batch[:0]
	for i := 1; i <= 12; i++ {
		h := fmt.Sprintf("q%02d", i)
		for j := range 3 {
			realVM(h, j)
		}
		if i <= 6 {
			send("COMPUTE_HOST", fmt.Sprintf("k%02d", i), map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}, "finished")
		}
	}
	// The victim is killed once it runs at least two notifications, one of
	// them past its first task.
	victim := engines[2]
	held := func() (ids []string, succeeded map[string]string) {
		rows, err := sqldb.Query(`SELECT n.notification_uuid, t.task, t.record FROM notifications n
			LEFT JOIN task_records t ON t.notification_uuid = n.notification_uuid
			WHERE n.owner = $1 AND n.status = 'running' ORDER BY n.notification_uuid`, owners[2])
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		succeeded = map[string]string{}
		for rows.Next() {
			var id string
			var task, rec sql.NullString
			if err := rows.Scan(&id, &task, &rec); err != nil {
				t.Fatal(err)
			}
			if len(ids) == 0 || ids[len(ids)-1] != id {
				ids = append(ids, id)
			}
			if strings.Contains(rec.String, `"state":"SUCCESS"`) {
				succeeded[id+" "+task.String] = rec.String
			}
		}
		return ids, succeeded
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ids, done := held()
		if len(ids) >= 2 && len(done) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the victim engine never ran two notifications at once, one past its first task")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-victim.done
	victim.done <- nil
	// What it held at its death (it may have gone on a little meanwhile).
	// Between the check and the kill, the victim may have finished one of
	// them.
	victimHeld, doneAtKill := held()
	if len(victimHeld) == 0 {
		t.Fatal("the victim held nothing when it died")
	}
	waitTerminal(t, sqldb, 342, 120*time.Second)
	errs := 0
	for _, l := range logs() {
		errs += strings.Count(l, "exits with status: error.")
	}
	t.Logf("phase 2: engine killed holding %d notification(s); all %d final %s after the kill (lease %d s); %d error(s) retried in all",
		len(victimHeld), len(batch), time.Since(killed).Round(time.Millisecond), lease, errs)
	// Resumed from the first unfinished task: the engine that resumed says
	// it did not run again what had succeeded before the kill. (A task in
	// flight at the kill does run again; if that fails, the periodic retry
	// later runs the whole flow anew, by design.)
	for key := range doneAtKill {
		id, task, _ := strings.Cut(key, " ")
		skip := regexp.MustCompile(`msg="task already succeeded before the restart; not run again" notification_uuid=` + id + ` task=` + task + `\b`)
		found := false
		for _, d := range engines[:2] {
			found = found || skip.MatchString(d.log())
		}
		if !found {
			t.Errorf("task %s of %s succeeded before the kill, but no engine resumed after it", task, id)
		}
	}
	if len(doneAtKill) == 0 {
		t.Log("phase 2: no task of what the killed engine held had succeeded yet: nothing to check for not running again")
	} else {
		t.Logf("phase 2: %d task(s) that had succeeded on the killed engine were not run again", len(doneAtKill))
	}
	survivors := engines[:2]
	for _, id := range victimHeld {
		var status string
		var owner sql.NullString
		if err := sqldb.QueryRow(`SELECT status, owner FROM notifications WHERE notification_uuid = $1`, id).Scan(&status, &owner); err != nil {
			t.Fatal(err)
		}
		if status != "finished" {
			t.Errorf("notification %s held by the killed engine ended %s", id, status)
		}
		resumed := false
		for _, d := range survivors {
			if regexp.MustCompile(`notification_uuid=` + id + `.*resuming a notification left running|resuming a notification left running.*notification_uuid=` + id).MatchString(d.log()) {
				resumed = true
			}
		}
		if !resumed {
			t.Errorf("no surviving engine says it resumed %s", id)
		}
	}
	for _, s := range batch {
		var status string
		sqldb.QueryRow(`SELECT status FROM notifications WHERE notification_uuid = $1`, s.id).Scan(&status)
		if status != s.want {
			t.Errorf("phase 2 notification %s of %s: %s, want %s", s.id, s.host, status, s.want)
		}
	}
	checkFinalOnce(t, logs(), "", func(yield func(string) bool) {
		for _, s := range batch {
			if !yield(s.id) {
				return
			}
		}
	})
	checkHostSerial(t, sqldb)
	getJSON(t, sim+"/sim/counters", &counters)
	for _, h := range fx.hosts("k", 1, 6) {
		for _, id := range fx.servers[h] {
			if got := counters.Evacuations[id]; got != 1 {
				t.Errorf("server %s of %s evacuated %d times, want 1", id, h, got)
			}
		}
	}
}

const simPassword = "multi-engine-pa55"

func simPost(t *testing.T, url string) {
	t.Helper()
	resp, err := shortClient.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

// waitTerminal waits until want notifications are stored, all in a final
// status.
func waitTerminal(t *testing.T, sqldb *sql.DB, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var total, final int
		err := sqldb.QueryRowContext(context.Background(), `SELECT COUNT(*), COUNT(*) FILTER (WHERE status IN ('finished', 'ignored', 'failed')) FROM notifications`).Scan(&total, &final)
		if err != nil {
			t.Fatal(err)
		}
		if total == want && final == want {
			return
		}
		if time.Now().After(deadline) {
			rows, _ := sqldb.Query(`SELECT status, COUNT(*) FROM notifications GROUP BY status`)
			var sum []string
			for rows != nil && rows.Next() {
				var s string
				var n int
				rows.Scan(&s, &n)
				sum = append(sum, fmt.Sprintf("%s=%d", s, n))
			}
			t.Fatalf("after %s: %d of %d notifications final (%v)", timeout, final, want, sum)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var finalLine = regexp.MustCompile(`Notification ([0-9a-f-]{36}) exits with status: (finished|ignored|failed)\.`)

// checkFinalOnce checks that every notification of ids reached a final
// status exactly once, across the logs of every engine.
func checkFinalOnce(t *testing.T, logs []string, _ string, ids func(func(string) bool)) {
	t.Helper()
	count := map[string]int{}
	for _, l := range logs {
		for _, m := range finalLine.FindAllStringSubmatch(l, -1) {
			count[m[1]]++
		}
	}
	for id := range ids {
		if count[id] != 1 {
			t.Errorf("notification %s reached a final status %d times", id, count[id])
		}
	}
}

// span is when a notification's tasks ran: from the start of its first
// task to the end of its last, as the engines recorded them.
type span struct {
	id         string
	start, end time.Time
}

// checkHostSerial checks, from the task records in the database, that no
// two notifications of one host ran at the same time, whichever engines
// ran them.
func checkHostSerial(t *testing.T, sqldb *sql.DB) {
	t.Helper()
	rows, err := sqldb.Query(`SELECT n.source_host_uuid, n.notification_uuid, t.record FROM notifications n
		JOIN task_records t ON t.notification_uuid = n.notification_uuid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	spans := map[string]*span{}
	hostOf := map[string]string{}
	for rows.Next() {
		var host, id, raw string
		if err := rows.Scan(&host, &id, &raw); err != nil {
			t.Fatal(err)
		}
		var rec struct{ Started, Ended time.Time }
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			t.Fatal(err)
		}
		sp := spans[id]
		if sp == nil {
			sp = &span{id: id}
			spans[id], hostOf[id] = sp, host
		}
		if !rec.Started.IsZero() && (sp.start.IsZero() || rec.Started.Before(sp.start)) {
			sp.start = rec.Started
		}
		if rec.Ended.After(sp.end) {
			sp.end = rec.Ended
		}
	}
	byHost := map[string][]span{}
	for id, sp := range spans {
		byHost[hostOf[id]] = append(byHost[hostOf[id]], *sp)
	}
	for _, p := range hostOverlaps(byHost) {
		t.Error(p)
	}
	t.Logf("per-host serialisation checked on %d notifications that ran tasks", len(spans))
}

// hostOverlaps lists the runs that started before the previous run of their
// host ended.
func hostOverlaps(byHost map[string][]span) []string {
	var problems []string
	for host, list := range byHost {
		slices.SortFunc(list, func(a, b span) int { return a.start.Compare(b.start) })
		for i := 1; i < len(list); i++ {
			if list[i].start.Before(list[i-1].end) {
				problems = append(problems, fmt.Sprintf("host %s: %s started at %s while %s ran until %s", host, list[i].id,
					list[i].start.Format(time.StampMicro), list[i-1].id, list[i-1].end.Format(time.StampMicro)))
			}
		}
	}
	return problems
}

// multiBed is what the multi-engine tests run on until the test ends: a
// PostgreSQL database, a `kaifuku simcloud` serving multiFixture, and a
// directory for the engines' configurations.
type multiBed struct {
	t   *testing.T
	dsn string
	dir string
	fx  multi
	sim string  // the simcloud's URL
	db  *sql.DB // the engines' database
}

// newMultiBed starts the bed; pgtest.Database decides what a missing
// PostgreSQL does to the test (a skip, a failure in CI).
func newMultiBed(t *testing.T) *multiBed {
	t.Helper()
	b := &multiBed{t: t, dsn: pgtest.Database(t)}
	bin := kaifukuBinary(t)
	b.dir = t.TempDir()
	b.fx = multiFixture()
	fixture := filepath.Join(b.dir, "cloud.json")
	if err := os.WriteFile(fixture, b.fx.json, 0o600); err != nil {
		t.Fatal(err)
	}
	b.sim = startSimcloud(t, bin, fixture, simPassword)
	db, err := sql.Open("pgx", b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
	return b
}

// engineEnv writes the configuration of engine i: the Nova of the bed's
// simcloud and the bed's database, then extra.
func (b *multiBed) engineEnv(i int, extra string) *daemontest.Env {
	b.t.Helper()
	return novaEnv(b.t, filepath.Join(b.dir, fmt.Sprintf("engine%d", i)), b.sim, simPassword, b.dsn, extra)
}

// multi is the multi-engine test's cloud.
type multi struct {
	json     []byte
	servers  map[string][]string // host -> its servers
	reserved []string
}

func (m multi) hosts(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// multiFixture: h01..h30 (phase 1) and q01..q12, k01..k06 (phase 2) with
// two HA servers each, eight disabled reserved hosts r01..r08, six spare
// hosts. Stops and starts take 300 ms, evacuations no time.
func multiFixture() multi {
	m := multi{servers: map[string][]string{}}
	type host struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		Reserved bool   `json:"reserved,omitempty"`
	}
	type server struct {
		ID       string            `json:"id"`
		Name     string            `json:"name"`
		Host     string            `json:"host"`
		Metadata map[string]string `json:"metadata"`
	}
	var hosts []host
	var servers []server
	n := 0
	for _, h := range append(append(m.hosts("h", 1, 30), m.hosts("q", 1, 12)...), m.hosts("k", 1, 6)...) {
		hosts = append(hosts, host{Name: h, Status: "enabled"})
		for range 2 {
			n++
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
			servers = append(servers, server{ID: id, Name: fmt.Sprintf("vm-%s-%d", h, n), Host: h, Metadata: map[string]string{"HA_Enabled": "True"}})
			m.servers[h] = append(m.servers[h], id)
		}
	}
	for _, h := range m.hosts("r", 1, 8) {
		hosts = append(hosts, host{Name: h, Status: "disabled", Reserved: true})
		m.reserved = append(m.reserved, h)
	}
	for _, h := range m.hosts("s", 1, 6) {
		hosts = append(hosts, host{Name: h, Status: "enabled"})
	}
	m.json, _ = json.MarshalIndent(map[string]any{"hosts": hosts, "servers": servers,
		"latency_ms": map[string]int{"api": 0, "stop": 300, "start": 300, "evacuate": 0}}, "", " ")
	return m
}

// The serialisation check itself finds overlapping runs of one host.
func TestHostOverlapsFindsOverlap(t *testing.T) {
	at := func(sec int) time.Time { return time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC) }
	a, b := span{"a", at(1), at(3)}, span{"b", at(2), at(4)}
	if p := hostOverlaps(map[string][]span{"h1": {b, a}}); len(p) != 1 {
		t.Fatalf("overlapping runs of one host: %q", p)
	}
	if p := hostOverlaps(map[string][]span{"h1": {a}, "h2": {b}}); len(p) != 0 {
		t.Fatalf("runs of two hosts: %q", p)
	}
	c := span{"c", at(3), at(5)}
	if p := hostOverlaps(map[string][]span{"h1": {c, a}}); len(p) != 0 {
		t.Fatalf("one run after the other: %q", p)
	}
}
