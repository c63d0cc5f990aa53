package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// FlowOptions describes one notification played through the configured
// flows.
type FlowOptions struct {
	Fakes
	// Kind picks a failure to simulate: instance, process, host_auto or
	// host_rh. Leave it empty and set Notification instead to play a
	// Masakari notification body.
	Kind conf.FlowKind
	// Notification is a notification request body, {"notification": {...}}
	// (the inner object alone is accepted too); generated_time defaults to
	// the fake clock's start.
	Notification map[string]any
	// Host is the failed host; default the first fixture host whose service
	// is down (or marked failed).
	Host string
	// InstanceUUID is the failed server of an instance failure; default the
	// fixture's first server.
	InstanceUUID string
	// RecoveryMethod of the failed host's segment: auto, reserved_host,
	// auto_priority or rh_priority. Default reserved_host for host_rh and
	// auto otherwise.
	RecoveryMethod string
	// Config overrides task sections: task name to its settings.
	Config map[string]map[string]string
	// NotificationUUID defaults to DefaultNotificationUUID.
	NotificationUUID string
}

// FlowTaskResult is one task of a flow run.
type FlowTaskResult struct {
	Flow     conf.FlowKind
	Name     string
	Phase    string
	State    string // SUCCESS, FAILURE, REVERTED, REVERT_FAILURE, RUNNING
	Error    string
	Progress []Progress
	Record   engine.TaskRecord
}

// FlowResult is the outcome of a notification.
type FlowResult struct {
	// Status is the notification's final status: finished, ignored or error.
	Status string
	// Message says why for ignored and error outcomes.
	Message string
	// Notification is what was played.
	Notification recovery.Notification
	// Flows lists the flows that ran, in order (two when a priority method
	// fell back).
	Flows []conf.FlowKind
	// Tasks lists every task that ran, flow by flow, in run order.
	Tasks []FlowTaskResult
	// Store is the last flow's final store.
	Store engine.Store
	// Cloud is the simulated cloud at the end.
	Cloud simulated.Snapshot
	// Segment is the failover segment's hosts at the end; HostChanges the
	// changes made to them, in order.
	Segment     []SegmentHost
	HostChanges []HostChange
	Recorded
}

// RunFlow plays a notification through the configured flows, as the daemon's
// engine does: the manager's decisions (recovery method, fallbacks), the
// built-in tasks on the simulated cloud and the Lua tasks with the fakes. The
// reserved hosts of the segment are the fixture's hosts with "reserved":
// true. An error means the run could not be set up (bad configuration, no
// failed host) or a request found no canned response.
func (s *Suite) RunFlow(ctx context.Context, opts FlowOptions) (*FlowResult, error) {
	cfg := s.config()
	if len(opts.Config) > 0 {
		c := *cfg
		c.Sections = maps.Clone(cfg.Sections)
		if c.Sections == nil {
			c.Sections = map[string]conf.Section{}
		}
		for task, values := range opts.Config {
			c.Sections[task] = conf.Section{Name: task, Values: maps.Clone(values), KeyPos: map[string]conf.Pos{}}
		}
		cfg = &c
	}
	w, err := s.newWorld(opts.Fakes, cfg)
	if err != nil {
		return nil, err
	}
	flows, err := engine.BuildAll(w.registry, cfg)
	if err != nil {
		return nil, err
	}
	n, method, err := s.notification(opts, w)
	if err != nil {
		return nil, err
	}
	w.segment.SetRecoveryMethod(method)
	m := &recovery.Manager{Runner: w.runner(), Flows: flows, Claims: engine.NewLocalClaims(), VMoves: &engine.MemoryVMoves{},
		ServerLocks: engine.NewLocalServerLocks(), Unlocker: w.cloud}
	out := m.Recover(ctx, recovery.Job{Notification: n}, w.segment)

	res := &FlowResult{Status: out.Status, Message: out.Message, Notification: n}
	for _, r := range out.Runs {
		res.Flows = append(res.Flows, r.Flow)
		for _, rec := range r.Result.Tasks {
			res.Tasks = append(res.Tasks, FlowTaskResult{Flow: r.Flow, Name: rec.Name, Phase: rec.Phase, State: rec.State,
				Error: rec.Error, Progress: apiProgress(rec.Details), Record: rec})
		}
		res.Store = r.Result.Store
	}
	res.Segment, res.HostChanges = w.segment.Hosts(), w.segment.Changes()
	res.Cloud = w.cloud.Snapshot()
	res.Recorded = w.recorded()
	return res, w.http.Unmatched()
}

// notification builds the notification of a run and the failed host's
// recovery method.
func (s *Suite) notification(opts FlowOptions, w *world) (recovery.Notification, string, error) {
	uuid := opts.NotificationUUID
	if uuid == "" {
		uuid = DefaultNotificationUUID
	}
	method := opts.RecoveryMethod
	fx := DefaultFixture()
	if opts.Cloud != nil {
		fx = *opts.Cloud
	}
	if opts.Notification != nil {
		if opts.Kind != "" {
			return recovery.Notification{}, "", fmt.Errorf("give a flow kind or a notification, not both")
		}
		body := opts.Notification
		if _, ok := body["notification"]; !ok {
			body = map[string]any{"notification": body}
		}
		if inner, ok := body["notification"].(map[string]any); ok {
			if _, ok := inner["generated_time"]; !ok {
				inner = maps.Clone(inner)
				inner["generated_time"] = w.start.UTC().Format("2006-01-02T15:04:05.000000")
				body = map[string]any{"notification": inner}
			}
		}
		data, err := json.Marshal(body)
		if err != nil {
			return recovery.Notification{}, "", fmt.Errorf("notification: %w", err)
		}
		n, err := recovery.ParseNotification(data)
		if err != nil {
			return recovery.Notification{}, "", fmt.Errorf("notification: %w", err)
		}
		n.UUID = uuid
		if method == "" {
			method = recovery.MethodAuto
		}
		return n, method, nil
	}
	n := recovery.Notification{UUID: uuid, GeneratedTime: w.start.UTC(), Payload: map[string]string{}}
	failedHost := func() (string, error) {
		if opts.Host != "" {
			return opts.Host, nil
		}
		for _, h := range fx.Hosts {
			if h.State == "down" || h.Failed {
				return h.Name, nil
			}
		}
		return "", fmt.Errorf("no failed host: give opts.host or mark a fixture host \"state\": \"down\"")
	}
	var err error
	switch opts.Kind {
	case conf.FlowInstance:
		n.Type = recovery.TypeVM
		id := opts.InstanceUUID
		if id == "" {
			if len(fx.Servers) == 0 {
				return n, "", fmt.Errorf("instance failure: the cloud fixture has no server; give opts.instance_uuid and servers")
			}
			id = fx.Servers[0].ID
		}
		n.Hostname = opts.Host
		for _, sv := range fx.Servers {
			if sv.ID == id && n.Hostname == "" {
				n.Hostname = sv.Host
			}
		}
		if n.Hostname == "" {
			n.Hostname = "unknown"
		}
		n.Payload = map[string]string{"event": "LIFECYCLE", "instance_uuid": id, "vir_domain_event": "STOPPED_FAILED"}
	case conf.FlowProcess:
		n.Type = recovery.TypeProcess
		if n.Hostname, err = failedHost(); err != nil {
			return n, "", err
		}
		n.Payload = map[string]string{"event": "STOPPED", "process_name": "nova-compute"}
	case conf.FlowHostAuto, conf.FlowHostRH:
		n.Type = recovery.TypeComputeHost
		if n.Hostname, err = failedHost(); err != nil {
			return n, "", err
		}
		n.Payload = map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
		if method == "" {
			method = recovery.MethodAuto
			if opts.Kind == conf.FlowHostRH {
				method = recovery.MethodReservedHost
			}
		}
	case "":
		return n, "", fmt.Errorf("give a flow kind (instance, process, host_auto, host_rh) or a notification body")
	default:
		return n, "", fmt.Errorf("unknown flow kind %q (want instance, process, host_auto or host_rh)", opts.Kind)
	}
	if method == "" {
		method = recovery.MethodAuto
	}
	return n, method, nil
}
