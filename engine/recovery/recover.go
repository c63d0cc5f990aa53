package recovery

import (
	"context"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// SegmentDisabledMessage is Masakari's message (sic) for a notification
// ignored because its segment is disabled.
const SegmentDisabledMessage = "Recovery aboart: the segment HA is disabled."

// SegmentSource is the failover segment database as a notification's
// recovery needs it: where its source host is found, and what the flows
// change. The daemon's database implements it (through engine/service);
// MemorySegment is the segment of kaifuku run and of the test harness.
type SegmentSource interface {
	Segments
	// SourceHost returns the notification's source host with its segment's
	// settings. An error becomes the notification's message.
	SourceHost(ctx context.Context, n Notification) (Host, error)
}

// Job is one notification to recover, and how it came to run.
type Job struct {
	Notification Notification
	// Resumed marks a notification taken over after a restart or from an
	// engine that died; Resume holds its persisted runs, to go on from.
	Resumed bool
	Resume  Checkpoints
	// Retry marks the periodic retry of a notification in error.
	Retry bool
}

// Recover runs one notification: it finds the source host in segs, ignores
// the notification when the host's segment is disabled, and processes it.
// A resumed or retried notification passed that check when it first ran and
// is not checked again. The double-delivery guard and the final status
// (Outcome.Interrupted: not final) belong to the caller.
func (m *Manager) Recover(ctx context.Context, j Job, segs SegmentSource) Outcome {
	n := j.Notification
	log := m.logger().WithField("notification_uuid", n.UUID)
	host, err := segs.SourceHost(ctx, n)
	if err != nil {
		log.Error(err.Error())
		out := errorOutcome(err)
		out.Interrupted = interrupted(ctx, out)
		return out
	}
	n.Hostname = host.Name
	if !j.Resumed && !j.Retry && !host.SegmentEnabled {
		log.Warn(SegmentDisabledMessage)
		return Outcome{Status: engine.StatusIgnored, Message: SegmentDisabledMessage}
	}
	if j.Resumed {
		log.WithField("flows", len(j.Resume)).Info("resuming a notification left running")
	} else {
		log.WithFields(logrus.Fields{"type": n.Type, "host": host.Name}).Info("processing notification")
	}
	return m.Process(ctx, n, host, segs, j.Resume)
}
