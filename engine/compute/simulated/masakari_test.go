package simulated

import (
	"context"
	"testing"
	"time"
)

// TestEvacuateAndConfirmBranches plays Masakari's evacuate-and-confirm for
// every vm_state/task_state row of its table with plain cloud calls, showing
// the simulated cloud lets each branch run to the end Nova gives it.
func TestEvacuateAndConfirmBranches(t *testing.T) {
	tests := []struct {
		vm, task  string
		power     int
		wantReset bool   // reset to error before evacuating
		wantStop  bool   // stop after evacuating
		wantFinal string // vm_state at the end
	}{
		{vm: "active", wantFinal: "active"},
		{vm: "active", task: "powering-off", wantReset: true, wantFinal: "active"},
		{vm: "stopped", wantFinal: "stopped"},
		{vm: "stopped", task: "powering-on", wantReset: true, wantStop: true, wantFinal: "stopped"},
		{vm: "error", wantStop: true, wantFinal: "error"},
		{vm: "error", task: "rebuilding", wantReset: true, wantStop: true, wantFinal: "error"},
		{vm: "paused", wantReset: true, wantStop: true, wantFinal: "stopped"},
		{vm: "suspended", wantReset: true, wantStop: true, wantFinal: "stopped"},
		{vm: "rescued", wantReset: true, wantStop: true, wantFinal: "stopped"},
		{vm: "shelved", wantReset: true, wantStop: true, wantFinal: "stopped"},
		{vm: "resized", power: 1, wantReset: true, wantFinal: "active"},
		{vm: "resized", power: 4, wantReset: true, wantStop: true, wantFinal: "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.vm+"/"+tt.task, func(t *testing.T) {
			f := baseFixture()
			f.Servers = f.Servers[:1]
			f.Servers[0].VMState, f.Servers[0].TaskState, f.Servers[0].PowerState = tt.vm, tt.task, tt.power
			f.Latency = Latency{API: 50, Stop: 3000, Start: 3000, Evacuate: 4000}
			c, clk := newCloud(t, f)
			ctx := context.Background()
			s := mustGet(t, c, vm1)
			if err := c.Lock(ctx, vm1); err != nil {
				t.Fatal(err)
			}
			orig := s.VMState
			stopAfter, reset := false, false
			mustReset := func(t *testing.T, c *Cloud, id string) {
				t.Helper()
				reset = true
				if err := c.ResetState(context.Background(), id, "error"); err != nil {
					t.Fatal(err)
				}
			}
			switch {
			case orig == "active" && s.TaskState == "":
			case orig == "active":
				mustReset(t, c, vm1)
			case orig == "stopped" && s.TaskState == "":
			case orig == "stopped":
				mustReset(t, c, vm1)
				stopAfter = true
			case orig == "error":
				if s.TaskState != "" {
					mustReset(t, c, vm1)
				}
				stopAfter = true
			default:
				mustReset(t, c, vm1)
				stopAfter = orig != "resized" || s.PowerState == 4
			}
			if reset != tt.wantReset {
				t.Fatalf("reset before evacuation: %v, want %v", reset, tt.wantReset)
			}
			if stopAfter != tt.wantStop {
				t.Fatalf("stop after: %v, want %v", stopAfter, tt.wantStop)
			}
			old := mustGet(t, c, vm1).VMState
			if err := c.Evacuate(ctx, vm1, ""); err != nil {
				t.Fatalf("evacuate: %v", err)
			}
			// Poll every second, up to 90 s.
			done := false
			for i := 0; i < 90 && !done; i++ {
				_ = clk.Sleep(ctx, time.Second)
				now := mustGet(t, c, vm1)
				if now.VMState == "error" && now.VMState != old {
					t.Fatalf("evacuation failed: %+v", now)
				}
				done = now.HypervisorHostname != "compute1" &&
					((old == "error" && now.VMState == "active") || old == now.VMState)
			}
			if !done {
				t.Fatalf("evacuation not confirmed in 90 s: %+v", mustGet(t, c, vm1))
			}
			if orig != "active" && stopAfter {
				if err := c.Stop(ctx, vm1); err != nil {
					t.Fatalf("stop after evacuation: %v", err)
				}
				stopped := false
				for i := 0; i < 180 && !stopped; i++ {
					_ = clk.Sleep(ctx, time.Second)
					stopped = mustGet(t, c, vm1).VMState == "stopped"
				}
				if !stopped {
					t.Fatal("not stopped in 180 s")
				}
				if orig == "error" {
					mustReset(t, c, vm1)
				}
			}
			if err := c.Unlock(ctx, vm1); err != nil {
				t.Fatal(err)
			}
			end := mustGet(t, c, vm1)
			if end.VMState != tt.wantFinal || end.TaskState != "" || end.Locked || end.Host == "compute1" {
				t.Errorf("end: %+v, want vm_state %s on another host", end, tt.wantFinal)
			}
		})
	}
}
