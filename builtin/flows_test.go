package builtin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

const notificationUUID = "9b2e8ad0-2a4c-4a8e-b1f1-0c3e5d7f9a11"

// runFlow builds one configured flow with the built-in tasks and runs it
// through the engine's runner on the harness's cloud and clock, its main
// retried as the recovery manager does.
func (h *harness) runFlow(kind conf.FlowKind, store engine.Store) engine.Result {
	h.t.Helper()
	flow, err := engine.Build(h.registry(), h.cfg, kind)
	if err != nil {
		h.t.Fatalf("build %s flow: %v", kind, err)
	}
	r := &engine.Runner{Clock: h.clk, Log: h.log}
	req := engine.Request{NotificationUUID: notificationUUID, Flow: flow, Store: store, Claims: h.claims, Retry: recovery.MainRetry(kind)}
	if h.hosts != nil {
		req.Hosts = h.hosts
	}
	return r.Run(context.Background(), req)
}

// summary is "name:STATE" for every task record, in order.
func summary(res engine.Result) string {
	var parts []string
	for _, t := range res.Tasks {
		parts = append(parts, t.Name+":"+t.State)
	}
	return strings.Join(parts, " ")
}

func messages(res engine.Result, task string) []string {
	for _, t := range res.Tasks {
		if t.Name == task {
			var out []string
			for _, d := range t.Details {
				out = append(out, d.Message)
			}
			return out
		}
	}
	return nil
}

func TestAllDefaultFlowsBuild(t *testing.T) {
	h := newHarness(t, failedHostCloud())
	flows, err := engine.BuildAll(h.registry(), h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 4 {
		t.Fatalf("%d flows", len(flows))
	}
}

func TestHostAutoFlowRecoversAJustFailedHost(t *testing.T) {
	fx := justFailed()
	fx.Servers = append(fx.Servers, haServer(2, "compute1"),
		simulated.Server{ID: uid(3), Name: "vm3", Host: "compute1"})
	fx.Latency = simulated.Latency{Evacuate: 1000}
	h := newHarness(t, fx)
	res := h.runFlow(conf.FlowHostAuto, engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID})
	if res.Status != engine.StatusFinished || res.Err != nil {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if s := summary(res); s != "disable_compute_service_task:SUCCESS prepare_HA_enabled_instances_task:SUCCESS evacuate_instances_task:SUCCESS" {
		t.Fatalf("tasks %s", s)
	}
	if res.Tasks[0].Atom != "DisableComputeServiceTask" || res.Tasks[2].Atom != "EvacuateInstancesTask" {
		t.Fatalf("atoms %s, %s", res.Tasks[0].Atom, res.Tasks[2].Atom)
	}
	for _, id := range []string{uid(1), uid(2), uid(3)} {
		s := h.server(id)
		if s.Host != "compute2" || s.VMState != "active" || s.Locked {
			t.Fatalf("server %s: %+v", id, s)
		}
	}
	if got := res.Store["instance_list"]; fmt.Sprint(got) != fmt.Sprint([]any{uid(1), uid(2), uid(3)}) {
		t.Fatalf("instance_list %v", got)
	}
	last := messages(res, "evacuate_instances_task")
	if last[len(last)-1] != "Evacuation process completed!" {
		t.Fatalf("evacuate messages %q", last)
	}
	// 61 s for Nova to see the host down, then the evacuations (1 s each,
	// three at a time; the fake clock adds parallel sleeps, so this is an
	// upper bound).
	if h.elapsed() > 61*time.Second+3*time.Second+3*time.Second {
		t.Fatalf("recovered in %s of virtual time", h.elapsed())
	}
	t.Logf("recovered 3 servers in %s of virtual time", h.elapsed())
}

func TestHostAutoFlowSkipsAHostWithoutHAServers(t *testing.T) {
	h := newHarness(t, failedHostCloud(simulated.Server{ID: uid(2), Name: "vm2", Host: "compute1"}))
	h.cfg.HostFailure.EvacuateAllInstances = false
	res := h.runFlow(conf.FlowHostAuto, engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID})
	if res.Status != engine.StatusFinished || !engine.IsSkip(res.Err) {
		t.Fatalf("status %s: %v; want finished by a skip", res.Status, res.Err)
	}
	if s := summary(res); s != "disable_compute_service_task:SUCCESS prepare_HA_enabled_instances_task:SUCCESS" {
		t.Fatalf("tasks %s; evacuate must not run", s)
	}
}

func TestHostAutoFlowFailureRevertsAndEndsInError(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "evacuate", Error: "error"}}
	h := newHarness(t, fx)
	res := h.runFlow(conf.FlowHostAuto, engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID})
	if res.Status != engine.StatusError || res.Err.Error() != "Failed to evacuate instances '"+uid(1)+"' from host 'compute1'" {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	// taskflow reverts every task that ran, the failing one included.
	if s := summary(res); s != "disable_compute_service_task:REVERTED prepare_HA_enabled_instances_task:REVERTED evacuate_instances_task:REVERTED" {
		t.Fatalf("tasks %s", s)
	}
}

// rhCloud has compute1 failed, compute2 disabled (not a target) and the
// reserved hosts compute3 and compute4, both disabled.
func rhCloud(servers ...simulated.Server) simulated.Fixture {
	fx := reservedCloud(servers...)
	fx.Hosts = append(fx.Hosts, simulated.Host{Name: "compute4", Status: "disabled", Reserved: true})
	return fx
}

func rhStoreFor(hosts ...string) engine.Store {
	list := make([]any, len(hosts))
	for i, h := range hosts {
		list[i] = h
	}
	return engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID, "reserved_host_list": list}
}

func TestHostRHFlowTriesTheNextReservedHostWhenOneIsLocked(t *testing.T) {
	h := newHarness(t, rhCloud(haServer(1, "compute1"), haServer(2, "compute1")))
	// Another flow is using compute3.
	unlock, err := h.claims.ClaimReservedHost(context.Background(), "another-notification", "compute3")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	res := h.runFlow(conf.FlowHostRH, rhStoreFor("compute3", "compute4"))
	if res.Status != engine.StatusFinished || res.Err != nil {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	for _, id := range []string{uid(1), uid(2)} {
		if s := h.server(id); s.Host != "compute4" || s.Locked {
			t.Fatalf("server %s: %+v, want on compute4", id, s)
		}
	}
	if h.hosts.String() != "compute4 reserved=false" || h.service("compute3").Status != "disabled" || h.service("compute4").Status != "enabled" {
		t.Fatalf("host updates %q; compute3 %s, compute4 %s", h.hosts, h.service("compute3").Status, h.service("compute4").Status)
	}
	// pre ran once; main twice; messages of the failed attempt remain.
	ev := messages(res, "evacuate_instances_task")
	start := "Start evacuation of instances from failed host 'compute1', instance uuids are: '" + uid(1) + "," + uid(2) + "'"
	if len(ev) < 3 || ev[0] != start || ev[1] != start || ev[2] != "Enabling reserved host: 'compute4'" {
		t.Fatalf("evacuate messages %q", ev)
	}
	if n := len(messages(res, "disable_compute_service_task")); n != 2 {
		t.Fatalf("disable ran with %d messages, want once (2)", n)
	}
	if p := messages(res, "prepare_HA_enabled_instances_task"); strings.Count(strings.Join(p, "\n"), "Preparing instances for evacuation") != 2 {
		t.Fatalf("prepare messages %q, want two attempts", p)
	}
}

func TestHostRHFlowTriesTheNextReservedHostWhenOneCannotBeEnabled(t *testing.T) {
	fx := rhCloud(haServer(1, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "enable_service", Host: "compute3", Error: "unavailable"}}
	h := newHarness(t, fx)
	res := h.runFlow(conf.FlowHostRH, rhStoreFor("compute3", "compute4"))
	if res.Status != engine.StatusFinished {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if h.server(uid(1)).Host != "compute4" {
		t.Fatal("not on compute4")
	}
}

func TestHostRHFlowFailsWhenEveryReservedHostFails(t *testing.T) {
	h := newHarness(t, rhCloud(haServer(1, "compute1")))
	for _, rh := range []string{"compute3", "compute4"} {
		unlock, err := h.claims.ClaimReservedHost(context.Background(), "another-notification", rh)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
	}
	res := h.runFlow(conf.FlowHostRH, rhStoreFor("compute3", "compute4"))
	if res.Status != engine.StatusError || res.Err == nil || res.Err.Error() != "Lock is already acquired on compute4." {
		t.Fatalf("status %s: %v; want error with the last attempt's lock message", res.Status, res.Err)
	}
	if h.serverOps(uid(1), "evacuate") != 0 || h.hosts.String() != "" {
		t.Fatal("evacuated without a reserved host lock")
	}
}

func TestInstanceFlowRestartsTheServer(t *testing.T) {
	h := newHarness(t, vmCloud(vm("active", true)))
	res := h.runFlow(conf.FlowInstance, vmStore())
	if res.Status != engine.StatusFinished || res.Err != nil {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if s := summary(res); s != "stop_instance_task:SUCCESS start_instance_task:SUCCESS confirm_instance_active_task:SUCCESS" {
		t.Fatalf("tasks %s", s)
	}
	if h.server(vmID).VMState != "active" || h.serverOps(vmID, "stop") != 1 || h.serverOps(vmID, "start") != 1 {
		t.Fatalf("server %+v, calls %v", h.server(vmID), h.cloud.Counters().Servers[vmID])
	}
	// 4 s to stop, 7 s to start.
	if h.elapsed() != 11*time.Second {
		t.Fatalf("took %s, want 11s", h.elapsed())
	}
}

func TestInstanceFlowOutcomes(t *testing.T) {
	for state, want := range map[string]string{"paused": engine.StatusIgnored, "rescued": engine.StatusIgnored} {
		h := newHarness(t, vmCloud(vm(state, true)))
		if res := h.runFlow(conf.FlowInstance, vmStore()); res.Status != want {
			t.Errorf("%s: status %s, want %s", state, res.Status, want)
		}
	}
	h := newHarness(t, vmCloud(vm("active", false)))
	if res := h.runFlow(conf.FlowInstance, vmStore()); res.Status != engine.StatusFinished || !engine.IsSkip(res.Err) {
		t.Errorf("not HA-enabled: status %s, %v", res.Status, res.Err)
	}
}

func TestProcessFlowDisablesTheComputeService(t *testing.T) {
	h := newHarness(t, processCloud(""))
	res := h.runFlow(conf.FlowProcess, processStore)
	if res.Status != engine.StatusFinished || res.Err != nil {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if s := summary(res); s != "disable_compute_node_task:SUCCESS confirm_compute_node_disabled_task:SUCCESS" {
		t.Fatalf("tasks %s", s)
	}
	if h.service("compute1").Status != "disabled" {
		t.Fatal("service not disabled")
	}
}

func TestFlowsFromAConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kaifuku.conf")
	ini := `[DEFAULT]
host_failure_recovery_threads = 2

[host_failure]
force_down_service = true
evacuate_all_instances = false

[taskflow_driver_recovery_flows]
host_auto_failure_recovery_tasks = pre:['disable_compute_service_task', 'no_op'],main:['prepare_HA_enabled_instances_task'],post:['evacuate_instances_task']
`
	if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	fx := justFailed()
	fx.Servers = append(fx.Servers, simulated.Server{ID: uid(2), Name: "vm2", Host: "compute1"})
	h := newHarness(t, fx)
	h.cfg = cfg
	res := h.runFlow(conf.FlowHostAuto, engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID})
	if res.Status != engine.StatusFinished {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if s := summary(res); s != "disable_compute_service_task:SUCCESS no_op:SUCCESS prepare_HA_enabled_instances_task:SUCCESS evacuate_instances_task:SUCCESS" {
		t.Fatalf("tasks %s", s)
	}
	// force_down_service: no wait at all.
	if h.elapsed() != 0 || !h.service("compute1").ForcedDown {
		t.Fatalf("took %s; forced down %v", h.elapsed(), h.service("compute1").ForcedDown)
	}
	// evacuate_all_instances = false: the non-HA server stays.
	if h.server(uid(1)).Host != "compute2" || h.server(uid(2)).Host != "compute1" {
		t.Fatal("wrong servers evacuated")
	}
}

// masakariDisable is Masakari's DisableComputeServiceTask, for comparison:
// disable at once, then sleep wait_period_after_service_update.
type masakariDisable struct {
	nova compute.Cloud
	wait time.Duration
}

func (m masakariDisable) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	host, _ := in.String("host_name")
	svcs, err := m.nova.ListServices(ctx, host, "nova-compute")
	if err != nil {
		return nil, err
	}
	if _, err := m.nova.UpdateService(ctx, svcs[0].ID, compute.ServiceUpdate{Status: new("disabled"), DisabledReason: "Masakari detected host failed."}); err != nil {
		return nil, err
	}
	return nil, env.Clock.Sleep(ctx, m.wait)
}

func (masakariDisable) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

// TestTimeToRecoveryAgainstMasakari measures, in virtual time on the
// simulated cloud, how long the default host flow takes on a host that has
// just failed: with kaifuku's wait, with force_down_service, and with
// Masakari's disable-then-sleep. Evacuations take 1.1 s as on the real
// Nova of the time-to-recovery bench.
func TestTimeToRecoveryAgainstMasakari(t *testing.T) {
	for _, n := range []int{1, 10} {
		measure := func(mode string) time.Duration {
			fx := justFailed()
			fx.Servers = nil
			for i := 1; i <= n; i++ {
				fx.Servers = append(fx.Servers, haServer(i, "compute1"))
			}
			fx.Latency = simulated.Latency{Evacuate: 1100}
			h := newHarness(t, fx)
			reg := h.registry()
			switch mode {
			case "force_down":
				h.cfg.HostFailure.ForceDownService = true
			case "masakari":
				reg = reg.Clone()
				reg.Register(engine.Spec{Name: "masakari_disable", Requires: []string{"host_name"},
					New: func(conf.Section) (engine.Task, error) {
						return masakariDisable{h.cloud, h.cfg.Engine.WaitPeriodAfterServiceUpdate}, nil
					}})
				spec := h.cfg.Flows[conf.FlowHostAuto]
				spec.Phases[conf.Pre] = []conf.TaskRef{{Name: "masakari_disable"}}
				h.cfg.Flows[conf.FlowHostAuto] = spec
			}
			flow, err := engine.Build(reg, h.cfg, conf.FlowHostAuto)
			if err != nil {
				t.Fatal(err)
			}
			res := (&engine.Runner{Clock: h.clk, Log: h.log}).Run(context.Background(), engine.Request{
				NotificationUUID: notificationUUID, Flow: flow, Claims: h.claims,
				Store: engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID}})
			if res.Status != engine.StatusFinished {
				t.Fatalf("%s: %s: %v", mode, res.Status, res.Err)
			}
			for i := 1; i <= n; i++ {
				if h.server(uid(i)).Host != "compute2" {
					t.Fatalf("%s: server %d not recovered", mode, i)
				}
			}
			return h.elapsed()
		}
		wait, force, masakari := measure("wait"), measure("force_down"), measure("masakari")
		t.Logf("N=%d: Masakari %s, kaifuku waiting for down %s, kaifuku force_down_service %s", n, masakari, wait, force)
		if !(force < wait && wait+150*time.Second < masakari) {
			t.Fatalf("N=%d: force %s, wait %s, Masakari %s", n, force, wait, masakari)
		}
		// The part before the evacuations: 61 s (heartbeat lapse, seen at the
		// next poll) against 60 s RPC + 180 s sleep. With one server the
		// evacuation takes the same virtual time in both runs; parallel
		// evacuations share the fake clock, so their part varies between
		// runs and only the bound above holds.
		if n == 1 && masakari-wait != 240*time.Second-61*time.Second {
			t.Fatalf("N=%d: saved %s, want 179s", n, masakari-wait)
		}
	}
}
