package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
)

func TestVMoves(t *testing.T) { each(t, testVMoves) }

func testVMoves(t *testing.T, d *DB) {
	ctx := context.Background()
	seed(t, d, 1)
	n := notify(t, d, "h0", 0)
	ids := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}
	d.AddVMoves(n.UUID, "h0", engine.VMoveEvacuation, ids, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	end := start.Add(4 * time.Second)
	d.UpdateVMove(n.UUID, ids[0], engine.VMoveUpdate{Status: engine.VMoveOngoing, InstanceName: "vm0", StartTime: &start}, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	d.UpdateVMove(n.UUID, ids[0], engine.VMoveUpdate{Status: engine.VMoveSucceeded, DestHost: "h1", EndTime: &end}, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	d.UpdateVMove(n.UUID, ids[1], engine.VMoveUpdate{Status: engine.VMoveFailed, Message: "Failed reason: timeout.", EndTime: &end}, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A retried recovery adds the same servers again: their records stay.
	d.AddVMoves(n.UUID, "h0", engine.VMoveEvacuation, ids, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := d.VMoves(ctx, n.UUID, VMoveFilter{}, Page{Sort: []Sort{{Key: "instance_uuid"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("got %d vmoves, want 3: %+v", len(all), all)
	}
	v := all[0]
	if v.InstanceUUID != ids[0] || *v.Status != "succeeded" || v.InstanceName != "vm0" || *v.DestHost != "h1" || *v.SourceHost != "h0" ||
		*v.Type != "evacuation" || !v.StartTime.Equal(start) || !v.EndTime.Equal(end) || v.Message != nil {
		t.Fatalf("first vmove: %+v", v)
	}
	if *all[1].Status != "failed" || *all[1].Message != "Failed reason: timeout." || all[1].DestHost != nil || all[1].StartTime != nil {
		t.Fatalf("second vmove: %+v", all[1])
	}
	if *all[2].Status != "pending" {
		t.Fatalf("third vmove: %+v", all[2])
	}
	failed := "failed"
	got, err := d.VMoves(ctx, n.UUID, VMoveFilter{Status: &failed}, Page{})
	if err != nil || len(got) != 1 || got[0].InstanceUUID != ids[1] {
		t.Fatalf("status filter: %+v, %v", got, err)
	}
	page, err := d.VMoves(ctx, n.UUID, VMoveFilter{}, Page{Limit: 2, Marker: all[0].ID, Sort: []Sort{{Key: "instance_uuid"}}})
	if err != nil || len(page) != 2 || page[0].InstanceUUID != ids[1] {
		t.Fatalf("page after the first: %+v, %v", page, err)
	}
	if _, err := d.VMoves(ctx, n.UUID, VMoveFilter{}, Page{Sort: []Sort{{Key: "nope"}}}); !errors.Is(err, ErrInvalidSortKey) {
		t.Fatalf("bad sort key: %v", err)
	}
	if other, err := d.VMoves(ctx, notify(t, d, "h0", 1).UUID, VMoveFilter{}, Page{}); err != nil || len(other) != 0 {
		t.Fatalf("another notification's vmoves: %+v, %v", other, err)
	}
	one, err := d.VMove(ctx, all[1].UUID)
	if err != nil || one.ID != all[1].ID {
		t.Fatalf("VMove: %+v, %v", one, err)
	}
	if _, err := d.VMove(ctx, "44444444-4444-4444-8444-444444444444"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown vmove: %v", err)
	}
	// The update of a server AddVMoves did not see records it: a pending
	// evacuation with the update applied, then updated as the others.
	other := notify(t, d, "h0", 2)
	d.UpdateVMove(other.UUID, ids[0], engine.VMoveUpdate{InstanceName: "vm0", StartTime: &start}, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = d.VMoves(ctx, other.UUID, VMoveFilter{}, Page{})
	if err != nil || len(got) != 1 {
		t.Fatalf("vmoves recorded by an update: %+v, %v", got, err)
	}
	if v := got[0]; v.InstanceUUID != ids[0] || *v.Status != "pending" || *v.Type != "evacuation" || v.InstanceName != "vm0" ||
		v.SourceHost != nil || v.DestHost != nil || v.Message != nil || !v.StartTime.Equal(start) || v.EndTime != nil || v.UpdatedAt == nil {
		t.Fatalf("vmove recorded by an update: %+v", v)
	}
	d.UpdateVMove(other.UUID, ids[0], engine.VMoveUpdate{Status: engine.VMoveFailed, Message: "gone", EndTime: &end}, func(err error) { t.Error(err) })
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := d.VMove(ctx, got[0].UUID); err != nil || *v.Status != "failed" || *v.Message != "gone" || v.InstanceName != "vm0" ||
		!v.StartTime.Equal(start) || !v.EndTime.Equal(end) {
		t.Fatalf("vmove after its second update: %+v, %v", v, err)
	}
}

// A host's servers are recorded in runs of the prepared statements' sizes,
// whatever their number, each once.
func TestAddVMovesAnyNumber(t *testing.T) { each(t, testAddVMovesAnyNumber) }

func testAddVMovesAnyNumber(t *testing.T, d *DB) {
	ctx := context.Background()
	seed(t, d, 1)
	for i, count := range []int{1, 10, 37, 100} {
		n := notify(t, d, "h0", i)
		var ids []string
		for j := range count {
			ids = append(ids, fmt.Sprintf("%08d-0000-4000-8000-%012d", i, j))
		}
		d.AddVMoves(n.UUID, "h0", engine.VMoveEvacuation, ids, func(err error) { t.Errorf("%d servers: %v", count, err) })
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		all, err := d.VMoves(ctx, n.UUID, VMoveFilter{}, Page{Limit: 1000, Sort: []Sort{{Key: "instance_uuid"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != count {
			t.Fatalf("%d servers: %d vmoves", count, len(all))
		}
		for j, v := range all {
			if v.InstanceUUID != ids[j] || v.Status == nil || *v.Status != engine.VMovePending {
				t.Fatalf("%d servers: vmove %d is %s %v", count, j, v.InstanceUUID, v.Status)
			}
		}
	}
}
