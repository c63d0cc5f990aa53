package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// What the pages read of the API's answers.

type segmentJSON struct {
	UUID           string  `json:"uuid"`
	Name           string  `json:"name"`
	ServiceType    string  `json:"service_type"`
	Enabled        bool    `json:"enabled"`
	Description    *string `json:"description"`
	RecoveryMethod string  `json:"recovery_method"`
}

type hostJSON struct {
	UUID              string `json:"uuid"`
	Name              string `json:"name"`
	FailoverSegmentID string `json:"failover_segment_id"`
	Type              string `json:"type"`
	Reserved          bool   `json:"reserved"`
	ControlAttributes string `json:"control_attributes"`
	OnMaintenance     bool   `json:"on_maintenance"`
}

type notificationJSON struct {
	UUID           string          `json:"notification_uuid"`
	GeneratedTime  string          `json:"generated_time"`
	SourceHostUUID string          `json:"source_host_uuid"`
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	Status         string          `json:"status"`
	// Message is the manager's reason, where the API reports it.
	Message   string       `json:"message"`
	Details   []taskDetail `json:"recovery_workflow_details"`
	CreatedAt string       `json:"created_at"`
	UpdatedAt *string      `json:"updated_at"`
}

type taskDetail struct {
	Name            string           `json:"name"`
	Progress        float64          `json:"progress"`
	State           string           `json:"state"`
	ProgressDetails []progressDetail `json:"progress_details"`
}

type progressDetail struct {
	Timestamp string `json:"timestamp"`
	Progress  string `json:"progress"`
	Message   string `json:"message"`
}

// The notification statuses and types the filters offer, as Masakari
// names them.
var (
	notificationStatuses = []string{"new", "running", "error", "failed", "ignored", "finished"}
	notificationTypes    = []string{"COMPUTE_HOST", "VM", "PROCESS"}
)

// running reports whether a notification's recovery may still change.
func running(status string) bool { return status == "new" || status == "running" }

type notificationsData struct {
	Status, Type string
	Statuses     []string
	Types        []string
	Items        []notificationJSON
	Hosts        map[string]string // host names by UUID
	Limit        int
}

const listLimit = 200

func (d *Dashboard) notifications(s *session) (string, view, error) {
	q := s.r.URL.Query()
	data := notificationsData{Status: q.Get("status"), Type: q.Get("type"), Statuses: notificationStatuses,
		Types: notificationTypes, Limit: listLimit}
	api := url.Values{"limit": {fmt.Sprint(listLimit)}}
	if data.Status != "" {
		api.Set("status", data.Status)
	}
	if data.Type != "" {
		api.Set("type", data.Type)
	}
	var out struct {
		Notifications []notificationJSON `json:"notifications"`
	}
	if err := s.call("GET", "/v1/notifications?"+api.Encode(), "1.0", nil, &out); err != nil {
		return "", view{}, err
	}
	data.Items = out.Notifications
	var err error
	if data.Hosts, err = hostNames(s); err != nil {
		return "", view{}, err
	}
	live := false
	for _, n := range data.Items {
		live = live || running(n.Status)
	}
	return "notifications", view{Title: "Notifications", Nav: "notifications", Live: live, Data: data}, nil
}

type notificationData struct {
	N        notificationJSON
	Host     string // the source host's name
	Payload  string
	Reason   string
	Timeline timeline
}

func (d *Dashboard) notification(s *session) (string, view, error) {
	id := s.r.PathValue("id")
	var out struct {
		Notification notificationJSON `json:"notification"`
	}
	if err := s.call("GET", "/v1/notifications/"+pathEscape(id), "latest", nil, &out); err != nil {
		return "", view{}, err
	}
	n := out.Notification
	names, err := hostNames(s)
	if err != nil {
		return "", view{}, err
	}
	data := notificationData{N: n, Host: names[n.SourceHostUUID], Payload: indent(n.Payload), Reason: reason(n)}
	data.Timeline = buildTimeline(n.Details, running(n.Status), d.opt.Now())
	return "notification", view{Title: "Notification " + n.UUID, Nav: "notifications", Live: running(n.Status), Data: data}, nil
}

// reason says why a notification ended as it did: the manager's message
// where the API has one, else the last message of each failed task.
func reason(n notificationJSON) string {
	if n.Message != "" {
		return n.Message
	}
	var b bytes.Buffer
	for _, t := range n.Details {
		if t.State != engine.StateFailure && t.State != engine.StateRevertFailure || len(t.ProgressDetails) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s", t.Name, t.ProgressDetails[len(t.ProgressDetails)-1].Message)
	}
	return b.String()
}

func indent(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

type segmentRow struct {
	Segment segmentJSON
	Hosts   []hostJSON
}

func (d *Dashboard) segments(s *session) (string, view, error) {
	rows, err := segmentsWithHosts(s)
	if err != nil {
		return "", view{}, err
	}
	return "segments", view{Title: "Segments and hosts", Nav: "segments", Data: rows}, nil
}

// segmentsWithHosts reads every segment and its hosts, hosts by name.
func segmentsWithHosts(s *session) ([]segmentRow, error) {
	var segs struct {
		Segments []segmentJSON `json:"segments"`
	}
	if err := s.call("GET", "/v1/segments", "1.2", nil, &segs); err != nil {
		return nil, err
	}
	rows := make([]segmentRow, 0, len(segs.Segments))
	for _, sg := range segs.Segments {
		var hosts struct {
			Hosts []hostJSON `json:"hosts"`
		}
		if err := s.call("GET", "/v1/segments/"+pathEscape(sg.UUID)+"/hosts", "1.2", nil, &hosts); err != nil {
			return nil, err
		}
		sort.Slice(hosts.Hosts, func(i, j int) bool { return hosts.Hosts[i].Name < hosts.Hosts[j].Name })
		rows = append(rows, segmentRow{Segment: sg, Hosts: hosts.Hosts})
	}
	return rows, nil
}

// hostNames maps host UUIDs to names (notifications name their host by
// UUID only).
func hostNames(s *session) (map[string]string, error) {
	rows, err := segmentsWithHosts(s)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, r := range rows {
		for _, h := range r.Hosts {
			names[h.UUID] = h.Name
		}
	}
	return names, nil
}

// The flows page shows what kaifuku flows prints, from the same flow data.

type flowView struct {
	Kind    string
	Option  string
	Source  string
	Initial []string
	Phases  []phaseView
}

type phaseView struct {
	Name  string
	Note  string
	Tasks []taskView
}

type taskView struct {
	Name     string
	Kind     string
	Sources  []engine.KeySource
	Provides []string
}

func (d *Dashboard) flows(s *session) (string, view, error) {
	// The flows are the daemon's, not the API's: only an operator the API
	// accepts may see them.
	if err := s.call("GET", "/v1/segments?limit=1", "1.0", nil, nil); err != nil {
		return "", view{}, err
	}
	var flows map[conf.FlowKind]*engine.Flow
	if d.opt.Flows != nil {
		flows = d.opt.Flows()
	}
	var out []flowView
	for _, k := range conf.FlowKinds {
		f := flows[k]
		if f == nil {
			continue
		}
		fv := flowView{Kind: string(k), Option: k.Option(), Source: "Masakari's default", Initial: engine.InitialKeys(k)}
		if !f.Pos.IsZero() {
			fv.Source = f.Pos.String()
		}
		for _, p := range conf.Phases {
			pv := phaseView{Name: p.String()}
			if k == conf.FlowHostRH && p == conf.Main {
				pv.Note = "retried once per reserved host, with reserved_host bound"
			}
			for _, t := range f.Phases[p] {
				tv := taskView{Name: t.Spec.Name, Kind: "built-in", Sources: f.Sources(t), Provides: t.Spec.Provides}
				if t.Spec.Kind == "lua" {
					tv.Kind = "Lua " + t.Spec.Source
				}
				pv.Tasks = append(pv.Tasks, tv)
			}
			fv.Phases = append(fv.Phases, pv)
		}
		out = append(out, fv)
	}
	return "flows", view{Title: "Recovery flows", Nav: "flows", Data: out}, nil
}

// ---- actions

func (d *Dashboard) host(s *session) (hostJSON, error) {
	var out struct {
		Host hostJSON `json:"host"`
	}
	err := s.call("GET", "/v1/segments/"+pathEscape(s.r.PathValue("sid"))+"/hosts/"+pathEscape(s.r.PathValue("hid")), "1.0", nil, &out)
	return out.Host, err
}

// formBool reads the form's value field: "true" or "false".
func formBool(s *session) (bool, error) {
	switch v := s.r.PostFormValue("value"); v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, &apiError{code: 400, msg: fmt.Sprintf("value must be true or false, not %q", v)}
	}
}

func (d *Dashboard) updateHost(s *session, patch map[string]any) func() error {
	path := "/v1/segments/" + pathEscape(s.r.PathValue("sid")) + "/hosts/" + pathEscape(s.r.PathValue("hid"))
	return func() error { return s.call("PUT", path, "1.0", map[string]any{"host": patch}, nil) }
}

// hostFlag is a boolean field of a host that an action sets, with what the
// confirmation says for each value.
type hostFlag struct {
	field, done string // the API's field; the done= name of the segments page
	on, off     flagWords
}

// flagWords is a confirmation's text; question has a %s for the host name.
type flagWords struct{ question, button, detail string }

var (
	maintenanceFlag = hostFlag{field: "on_maintenance", done: "maintenance",
		on: flagWords{"Put host %s on maintenance?", "Put on maintenance",
			"Notifications from a host on maintenance are refused."},
		off: flagWords{"Take host %s off maintenance?", "Take off maintenance",
			"Notifications from the host are accepted and recovered again; if it is reserved, evacuations may use it again."}}
	reservedFlag = hostFlag{field: "reserved", done: "reserved",
		on: flagWords{"Mark host %s reserved?", "Mark reserved",
			"A reserved host receives the instances of a failed host of its segment under the reserved_host recovery method."},
		off: flagWords{"Mark host %s not reserved?", "Mark not reserved",
			"The host is no longer offered as a target of evacuations under the reserved_host recovery method."}}
)

// setHostFlag is the action that sets f on the host of the request.
func (d *Dashboard) setHostFlag(f hostFlag) func(*session) (*actionSpec, error) {
	return func(s *session) (*actionSpec, error) {
		on, err := formBool(s)
		if err != nil {
			return nil, err
		}
		h, err := d.host(s)
		if err != nil {
			return nil, err
		}
		words, state := f.off, "off"
		if on {
			words, state = f.on, "on"
		}
		return &actionSpec{Do: d.updateHost(s, map[string]any{f.field: on}), Back: Prefix + "segments#host-" + h.UUID,
			Question: fmt.Sprintf(words.question, h.Name), Button: words.button, Detail: words.detail,
			Done: Prefix + "segments?done=" + f.done + "-" + state + "#host-" + h.UUID}, nil
	}
}

func (d *Dashboard) setSegmentEnabled(s *session) (*actionSpec, error) {
	on, err := formBool(s)
	if err != nil {
		return nil, err
	}
	path := "/v1/segments/" + pathEscape(s.r.PathValue("sid"))
	var out struct {
		Segment segmentJSON `json:"segment"`
	}
	if err := s.call("GET", path, "1.2", nil, &out); err != nil {
		return nil, err
	}
	sg := out.Segment
	// enabled exists from microversion 1.2 on.
	spec := &actionSpec{Do: func() error {
		return s.call("PUT", path, "1.2", map[string]any{"segment": map[string]any{"enabled": on}}, nil)
	}, Back: Prefix + "segments#segment-" + sg.UUID}
	if on {
		spec.Question, spec.Button, spec.Done = fmt.Sprintf("Enable segment %s?", sg.Name), "Enable", Prefix+"segments?done=segment-enabled#segment-"+sg.UUID
		spec.Detail = "Notifications of its hosts will be recovered."
	} else {
		spec.Question, spec.Button, spec.Done = fmt.Sprintf("Disable segment %s?", sg.Name), "Disable", Prefix+"segments?done=segment-disabled#segment-"+sg.UUID
		spec.Detail = "Notifications of its hosts will be ignored until it is enabled again."
	}
	return spec, nil
}
