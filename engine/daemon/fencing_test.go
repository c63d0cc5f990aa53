package daemon_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
)

// fencedFlow puts fence_host_task first in the host flow.
const fencedFlow = `[taskflow_driver_recovery_flows]
host_auto_failure_recovery_tasks = pre:['fence_host_task', 'disable_compute_service_task'],main:['prepare_HA_enabled_instances_task'],post:['evacuate_instances_task']
`

// On the simulated cloud every host has a BMC: the daemon fences a failed
// host through it without a [fencing:HOST] section, as `kaifuku run` does.
func TestServeFencesThroughTheSimulatedBMCs(t *testing.T) {
	r := newEnv(t, 10, fencedFlow).Start(t)
	r.Segment("inproc", true, "compute1", "compute2")
	id := r.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	n := r.WaitFinal(id, time.Minute)
	if n.Notification.Status != "finished" {
		t.Fatalf("status %s, want finished: %+v\n%s", n.Notification.Status, n.Notification.Details, r.Log.String())
	}
	if d := n.Notification.Details; len(d) == 0 || d[0].Name != "FenceHostTask" || d[0].State != "SUCCESS" {
		t.Errorf("the host was not fenced first: %+v", d)
	}
	if log := r.Log.String(); !strings.Contains(log, "fenced the failed host: its power is off") {
		t.Errorf("the simulated BMC did not power the host off:\n%s", log)
	}
}

// A load reports the hosts that a fencing flow would find without a fencing
// device, with what will happen to their recoveries; a host with its
// [fencing:HOST] section is not named.
func TestLoadReportsHostsWithoutFencing(t *testing.T) {
	e := newEnv(t, 10, fencedFlow+"[fencing:compute2]\nagent = fence_ipmilan\nip = 127.0.0.1\nusername = admin\npassword = secret\n")
	// Not the simulated cloud's BMCs: the devices are the [fencing:HOST]
	// sections alone, as with Nova.
	r := e.StartWith(t, func(log *logrus.Logger, out io.Writer) daemon.Deps {
		deps := e.Deps(log, out)
		cloud := deps.Cloud
		deps.Cloud = func(ctx context.Context, cfg *conf.Config) (daemon.Cloud, error) {
			c, err := cloud(ctx, cfg)
			return daemon.Cloud{Compute: c.Compute, Describe: c.Describe}, err
		}
		return deps
	})
	r.Segment("inproc", true, "compute1", "compute2", "compute3")
	if err := r.D.Reload(); err != nil {
		t.Fatal(err)
	}
	want := "fencing: 2 host(s) of the segments have no [fencing:HOST] section in " + e.Config +
		": compute1 (segment inproc), compute3 (segment inproc); their recoveries stop at fence_host_task ([fencing] required = true)"
	if log := r.Log.String(); !strings.Contains(log, want) {
		t.Errorf("the reload did not report the unfenced hosts; want %q in\n%s", want, log)
	}
}
