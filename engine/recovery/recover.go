package recovery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
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
	// HostFailures counts, in the segment of n's source host, the hosts
	// that have a host-failure notification (IsHostFailure) received within
	// window before now, n's own included, and the hosts of the segment:
	// what the storm guard decides on.
	HostFailures(ctx context.Context, n Notification, window time.Duration) (failed, hosts int, err error)
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
	// Released marks a notification the storm guard held and an operator
	// released: it is not held again.
	Released bool
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
	if !j.Resumed && !j.Retry && !j.Released && m.Storm.MaxFailedHostsPercent > 0 && IsHostFailure(n.Type, n.Payload) {
		if out, held := m.stormGuard(ctx, n, segs, log); held {
			return out
		}
	}
	if j.Released {
		log.WithField("host", host.Name).Warn("storm guard: recovering a notification an operator released")
	}
	if j.Resumed {
		log.WithField("flows", len(j.Resume)).Info("resuming a notification left running")
	} else {
		log.WithFields(logrus.Fields{"type": n.Type, "host": host.Name}).Info("processing notification")
	}
	return m.Process(ctx, n, host, segs, j.Resume)
}

// IsHostFailure reports whether a notification reports a failed host, one
// the host flow recovers: COMPUTE_HOST with event STOPPED and host_status
// NORMAL (the others are ignored or finished without a recovery).
func IsHostFailure(typ string, payload map[string]string) bool {
	return typ == TypeComputeHost && strings.ToUpper(payload["event"]) == "STOPPED" &&
		strings.ToUpper(payload["host_status"]) == "NORMAL"
}

// stormGuard decides whether a fresh host failure is held: when more than
// m.Storm.MaxFailedHostsPercent of its segment's hosts failed within the
// window, the monitoring or the network is more likely at fault than the
// hosts, and evacuating them all would use up the reserve or run servers
// twice. Nothing of the host is touched while it is held; recoveries
// already started go on. A count that cannot be made holds too: the guard
// never lets a storm through for want of a number.
func (m *Manager) stormGuard(ctx context.Context, n Notification, segs SegmentSource, log *logrus.Entry) (Outcome, bool) {
	window, limit := m.Storm.Window, m.Storm.MaxFailedHostsPercent
	if window <= 0 {
		window = conf.Defaults().StormGuard.Window
	}
	failed, hosts, err := segs.HostFailures(ctx, n, window)
	var msg string
	switch {
	case err != nil:
		msg = fmt.Sprintf("Held by the storm guard: the failed hosts of the segment could not be counted (%v). Nothing was done; an operator releases the notification (POST /v1/notifications/%s/release) to recover the host.", err, n.UUID)
	case failed*100 > limit*hosts:
		msg = fmt.Sprintf("Held by the storm guard: %d of the %d hosts of the segment failed within %s, more than max_failed_hosts_percent (%d%%); more likely the monitoring or the network than the hosts. Nothing was done; an operator releases the notification (POST /v1/notifications/%s/release) to recover the host.", failed, hosts, window, limit, n.UUID)
	default:
		return Outcome{}, false
	}
	log.WithFields(logrus.Fields{"host": n.Hostname, "failed_hosts": failed, "segment_hosts": hosts}).Warn(msg)
	return Outcome{Status: engine.StatusHeld, Message: msg}, true
}
