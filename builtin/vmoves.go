package builtin

import (
	"context"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// vmoveRecord writes the VMove of one server as evacuate_instances_task
// moves it (Env.VMoves): ongoing with its start time when the evacuation is
// asked for, then succeeded with the destination or failed with the reason,
// and the end time. A recorder that fails is logged, never fails the
// evacuation: the record is about the move, not the move itself.
type vmoveRecord struct {
	ctx  context.Context
	env  *engine.Env
	id   string
	name string // the server's name, once read
	dest string // where it runs now, once confirmed
	// failed logs a write the recorder could not make; made at the first
	// update, for every update of the move.
	failed func(error)
}

// addVMoves records the servers of a host recovery as pending moves.
func addVMoves(env *engine.Env, host string, ids []string) {
	if env.VMoves == nil {
		return
	}
	env.VMoves.AddVMoves(env.NotificationUUID, host, engine.VMoveEvacuation, ids, func(err error) {
		envLog(env).Errorf("could not record the pending vmoves: %v", err)
	})
}

func (r *vmoveRecord) update(u engine.VMoveUpdate) {
	if r.env.VMoves == nil {
		return
	}
	u.InstanceName = r.name
	if r.failed == nil {
		env, id := r.env, r.id
		r.failed = func(err error) {
			envLog(env).WithField("instance_uuid", id).Errorf("could not record the vmove: %v", err)
		}
	}
	// Written even when the task's context ended, so that the record says
	// how far the move got.
	r.env.VMoves.UpdateVMove(r.env.NotificationUUID, r.id, u, r.failed)
}

// start marks the move ongoing.
func (r *vmoveRecord) start() {
	now := envClock(r.env).Now().UTC()
	r.update(engine.VMoveUpdate{Status: engine.VMoveOngoing, StartTime: &now})
}

// finish records how the move ended. A move stopped because the task was
// interrupted (shutdown, drain) keeps its status: the resumed task goes on
// with it.
func (r *vmoveRecord) finish(err *error) {
	if *err != nil && r.ctx.Err() != nil {
		return
	}
	now := envClock(r.env).Now().UTC()
	u := engine.VMoveUpdate{Status: engine.VMoveSucceeded, DestHost: r.dest, EndTime: &now}
	if *err != nil {
		u.Status, u.Message = engine.VMoveFailed, (*err).Error()
	}
	r.update(u)
}
