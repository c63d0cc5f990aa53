package compute_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// recorder is a cloud that records the calls that reach it.
type recorder struct {
	compute.Cloud // nil: only the methods below are called
	calls         []string
}

func (r *recorder) Evacuate(context.Context, string, string) error {
	r.calls = append(r.calls, "evacuate")
	return nil
}
func (r *recorder) Stop(context.Context, string) error { r.calls = append(r.calls, "stop"); return nil }
func (r *recorder) UpdateService(context.Context, string, compute.ServiceUpdate) (compute.Service, error) {
	r.calls = append(r.calls, "update_service")
	return compute.Service{}, nil
}
func (r *recorder) GetServer(context.Context, string) (compute.Server, error) {
	r.calls = append(r.calls, "get")
	return compute.Server{}, nil
}

// A refusing guard keeps every write from the cloud; reads and writes
// without a guard go through.
func TestGuardedRefusesWritesWhenTheGuardSaysNo(t *testing.T) {
	rec := &recorder{}
	c := compute.Guarded(rec)
	refused := errors.New("lease expired")
	ctx := compute.WithWriteGuard(context.Background(), func() error { return refused })
	if err := c.Evacuate(ctx, "s1", ""); !errors.Is(err, refused) {
		t.Errorf("evacuate: %v, want the guard's refusal", err)
	}
	if err := c.Stop(ctx, "s1"); !errors.Is(err, refused) {
		t.Errorf("stop: %v", err)
	}
	if _, err := c.UpdateService(ctx, "1", compute.ServiceUpdate{}); !errors.Is(err, refused) {
		t.Errorf("update service: %v", err)
	}
	if _, err := c.GetServer(ctx, "s1"); err != nil {
		t.Errorf("a read was refused: %v", err)
	}
	if err := c.Evacuate(context.Background(), "s1", ""); err != nil {
		t.Errorf("evacuate without a guard: %v", err)
	}
	if want := []string{"get", "evacuate"}; len(rec.calls) != 2 || rec.calls[0] != want[0] || rec.calls[1] != want[1] {
		t.Errorf("calls that reached the cloud: %v, want %v", rec.calls, want)
	}
}
