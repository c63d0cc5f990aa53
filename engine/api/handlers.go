package api

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/jsontree"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// ---- views (field order as Masakari sends them)

// recordTimes are the fields every Masakari object shows last: when it was
// created and last updated, and its soft deletion, which a shown object
// never has.
type recordTimes struct {
	CreatedAt string  `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
	DeletedAt *string `json:"deleted_at"`
	Deleted   bool    `json:"deleted"`
}

func timesOf(created time.Time, updated *time.Time) recordTimes {
	return recordTimes{CreatedAt: stamp(created), UpdatedAt: stampPtr(updated)}
}

type segmentView struct {
	ID             int64   `json:"id"`
	UUID           string  `json:"uuid"`
	Name           string  `json:"name"`
	ServiceType    string  `json:"service_type"`
	Enabled        bool    `json:"enabled"`
	Description    *string `json:"description"`
	RecoveryMethod string  `json:"recovery_method"`
	recordTimes
}

type hostView struct {
	ID                int64       `json:"id"`
	UUID              string      `json:"uuid"`
	Name              string      `json:"name"`
	FailoverSegmentID string      `json:"failover_segment_id"`
	FailoverSegment   segmentView `json:"failover_segment"`
	Type              string      `json:"type"`
	Reserved          bool        `json:"reserved"`
	ControlAttributes string      `json:"control_attributes"`
	OnMaintenance     bool        `json:"on_maintenance"`
	recordTimes
}

type notificationView struct {
	ID                      int64           `json:"id"`
	NotificationUUID        string          `json:"notification_uuid"`
	GeneratedTime           string          `json:"generated_time"`
	SourceHostUUID          string          `json:"source_host_uuid"`
	Type                    string          `json:"type"`
	Payload                 json.RawMessage `json:"payload"`
	Status                  string          `json:"status"`
	RecoveryWorkflowDetails *[]taskDetail   `json:"recovery_workflow_details,omitempty"`
	// From 1.3 (nil before: absent); message is null unless set.
	FailoverSegmentUUID json.RawMessage `json:"failover_segment_uuid,omitempty"`
	Message             json.RawMessage `json:"message,omitempty"`
	recordTimes
}

type taskDetail struct {
	Name            string            `json:"name"`
	Progress        float64           `json:"progress"`
	ProgressDetails []progressDetails `json:"progress_details"`
	State           string            `json:"state"`
}

type progressDetails struct {
	Timestamp string `json:"timestamp"`
	Progress  string `json:"progress"`
	Message   string `json:"message"`
}

func stamp(t time.Time) string { return t.UTC().Format(db.TimeFormat) }

func stampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}

func viewSegment(s db.Segment) segmentView {
	return segmentView{ID: s.ID, UUID: s.UUID, Name: s.Name, ServiceType: s.ServiceType, Enabled: s.Enabled,
		Description: s.Description, RecoveryMethod: s.RecoveryMethod, recordTimes: timesOf(s.CreatedAt, s.UpdatedAt)}
}

func viewHost(h db.Host) hostView {
	return hostView{ID: h.ID, UUID: h.UUID, Name: h.Name, FailoverSegmentID: h.SegmentUUID, FailoverSegment: viewSegment(h.Segment),
		Type: h.Type, Reserved: h.Reserved, ControlAttributes: h.ControlAttributes, OnMaintenance: h.OnMaintenance,
		recordTimes: timesOf(h.CreatedAt, h.UpdatedAt)}
}

// viewNotification is a notification as the request's microversion shows
// it: from 1.3 with failover_segment_uuid and message.
func (req *request) viewNotification(n db.Notification) notificationView {
	v := notificationView{ID: n.ID, NotificationUUID: n.UUID, GeneratedTime: stamp(n.GeneratedTime),
		SourceHostUUID: n.SourceHostUUID, Type: n.Type, Payload: n.Payload, Status: n.Status,
		recordTimes: timesOf(n.CreatedAt, n.UpdatedAt)}
	if req.minor >= 3 {
		v.FailoverSegmentUUID = jsonValue(n.SegmentUUID)
		v.Message = []byte("null")
		// Masakari's message says why a recovery did not finish; kaifuku
		// also keeps one for finished notifications, shown elsewhere.
		if n.Message != nil && (n.Status == engine.StatusError || n.Status == engine.StatusFailed || n.Status == engine.StatusIgnored) {
			v.Message = jsonValue(*n.Message)
		}
	}
	return v
}

// jsonValue is s as a JSON string.
func jsonValue(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// pyTime is Python's str() of a naive datetime (a space, microseconds only
// when non-zero), as taskflow's progress details show timestamps.
func pyTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// workflowDetails builds recovery_workflow_details from the persisted runs:
// every task that ran, flow by flow in the order they ran, with its progress
// entries. A task whose execution failed shows FAILURE (even once reverted)
// and its error as its last entry. A notification that ended without running
// any task shows the manager's decision (its message) as one entry of its
// own, named decisionTask.
func workflowDetails(n db.Notification, runs []db.FlowRun) ([]taskDetail, error) {
	out := []taskDetail{}
	for _, fr := range runs {
		for _, raw := range fr.Records {
			var rec engine.TaskRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return nil, err
			}
			if d, ok := taskDetailOf(rec); ok {
				out = append(out, d)
			}
		}
	}
	if len(out) == 0 && n.Message != nil && *n.Message != "" && finalStatus(n.Status) {
		out = append(out, decisionDetail(n))
	}
	return out, nil
}

// decisionTask names the entry of the manager's decision on a notification
// that ran no task: why it was ignored, finished or in error.
const decisionTask = "recovery_decision"

func taskDetailOf(rec engine.TaskRecord) (taskDetail, bool) {
	failed := rec.Error != ""
	if rec.NoProgress && !failed {
		return taskDetail{}, false
	}
	d := taskDetail{Name: rec.Atom, Progress: rec.Progress, State: rec.State, ProgressDetails: []progressDetails{}}
	if d.Name == "" {
		d.Name = rec.Name
	}
	for _, e := range rec.Details {
		d.ProgressDetails = append(d.ProgressDetails, progressDetails{Timestamp: pyTime(e.Timestamp), Progress: pyFloat(e.Progress), Message: e.Message})
	}
	if failed {
		// The runner reverts the failed task too; the record keeps the
		// execution's error, which is why the flow ended. A failed revert
		// keeps its own state, with the revert's error.
		if d.State == engine.StateReverted {
			d.State = engine.StateFailure
		}
		at := rec.Ended
		if at.IsZero() {
			at = rec.Started
		}
		d.ProgressDetails = append(d.ProgressDetails, progressDetails{Timestamp: pyTime(at), Progress: pyFloat(rec.Progress), Message: rec.Error})
	}
	return d, true
}

func decisionDetail(n db.Notification) taskDetail {
	state := engine.StateSuccess
	if n.Status == engine.StatusError || n.Status == engine.StatusFailed {
		state = engine.StateFailure
	}
	at := n.CreatedAt
	if n.UpdatedAt != nil {
		at = *n.UpdatedAt
	}
	return taskDetail{Name: decisionTask, Progress: 1, State: state,
		ProgressDetails: []progressDetails{{Timestamp: pyTime(at), Progress: pyFloat(1), Message: *n.Message}}}
}

// finalStatus reports whether a notification status is final: its message, if
// any, says how it ended.
func finalStatus(status string) bool {
	switch status {
	case engine.StatusFinished, engine.StatusIgnored, engine.StatusError, engine.StatusFailed:
		return true
	}
	return false
}

// ---- paging and filters

// page reads limit, marker, sort_key and sort_dir.
func (req *request) page(max int) (db.Page, error) {
	q := req.r.URL.Query()
	p := db.Page{Limit: max}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil {
			return p, errorf(400, "limit param must be an integer")
		}
		if n < 0 {
			return p, errorf(400, "limit param must be positive")
		}
		if n > 0 && n < max {
			p.Limit = n
		}
	}
	if v := q.Get("marker"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return p, errorf(400, "Marker %s could not be found.", v)
		}
		p.Marker = id
	}
	keys, dirs := q["sort_key"], q["sort_dir"]
	for i, k := range keys {
		desc := true
		if i < len(dirs) {
			switch dirs[i] {
			case "asc":
				desc = false
			case "desc":
			default:
				return p, errorf(400, "Unknown sort direction, must be 'asc' or 'desc'")
			}
		} else if len(dirs) > 0 {
			desc = dirs[len(dirs)-1] != "asc"
		}
		p.Sort = append(p.Sort, db.Sort{Key: k, Desc: desc})
	}
	if len(keys) == 0 && len(dirs) > 0 {
		switch dirs[0] {
		case "asc":
			p.Sort = []db.Sort{{Key: "created_at"}}
		case "desc":
		default:
			return p, errorf(400, "Unknown sort direction, must be 'asc' or 'desc'")
		}
	}
	return p, nil
}

// listed is a list's answer: under key, every item as view shows it (an
// empty list as [], never null).
func listed[T, V any](key string, items []T, view func(T) V) (int, any, error) {
	out := make([]V, len(items))
	for i, x := range items {
		out[i] = view(x)
	}
	return 200, map[string]any{key: out}, nil
}

func listError(err error, marker int64) error {
	switch {
	case errors.Is(err, db.ErrMarkerNotFound):
		return errorf(400, "Marker %d could not be found.", marker)
	case errors.Is(err, db.ErrInvalidSortKey):
		return errorf(400, "Sort key supplied was not valid.")
	}
	return err
}

func strictBool(q url.Values, key string) (*bool, error) {
	v, ok := q[key]
	if !ok {
		return nil, nil
	}
	if b, ok := conf.ParseBool(v[0], conf.StrutilsWords); ok {
		return &b, nil
	}
	return nil, errorf(400, "Invalid value for %s: Unrecognized value '%s', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'", key, v[0])
}

func optString(q url.Values, key string) *string {
	if v, ok := q[key]; ok {
		return &v[0]
	}
	return nil
}

// ---- segments

// patchString is the value an update body gives key, nil when it leaves
// key as it is.
func patchString(b *jsontree.Node, key string) *string {
	if v := b.Get(key); v != nil {
		return &v.Str
	}
	return nil
}

// patchBool is patchString for a boolean, read as Masakari reads it.
func patchBool(b *jsontree.Node, key string) *bool {
	if v := b.Get(key); v != nil {
		x := pyBool(v)
		return &x
	}
	return nil
}

func segmentNotFound(id string) error { return errorf(404, "No failover segment with id %s.", id) }

func (s *Server) listSegments(req *request) (int, any, error) {
	p, err := req.page(s.settings.Load().MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	q := req.r.URL.Query()
	f := db.SegmentFilter{RecoveryMethod: optString(q, "recovery_method"), ServiceType: optString(q, "service_type")}
	if f.Enabled, err = strictBool(q, "enabled"); err != nil {
		return 0, nil, err
	}
	segs, err := s.store.Segments(req.r.Context(), f, p)
	if err != nil {
		return 0, nil, listError(err, p.Marker)
	}
	return listed("segments", segs, viewSegment)
}

func (s *Server) createSegment(req *request) (int, any, error) {
	doc, err := req.validBody(req.since12(s.schemas.segmentCreate, s.schemas.segmentCreate12))
	if err != nil {
		return 0, nil, err
	}
	b := doc.Get("segment")
	sg := db.Segment{Name: b.Get("name").Str, RecoveryMethod: b.Get("recovery_method").Str, ServiceType: b.Get("service_type").Str, Enabled: true}
	if d := b.Get("description"); d != nil && d.Kind == jsontree.String {
		sg.Description = &d.Str
	}
	if e := b.Get("enabled"); e != nil {
		sg.Enabled = pyBool(e)
	}
	created, err := s.store.CreateSegment(req.r.Context(), sg)
	if errors.Is(err, db.ErrSegmentNameExists) {
		return 0, nil, errorf(409, "Failover segment with name %s already exists.", sg.Name)
	}
	if err != nil {
		return 0, nil, err
	}
	return 201, map[string]any{"segment": viewSegment(created)}, nil
}

func (s *Server) showSegment(req *request) (int, any, error) {
	id := req.r.PathValue("segment_id")
	sg, err := s.store.Segment(req.r.Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		return 0, nil, segmentNotFound(id)
	}
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"segment": viewSegment(sg)}, nil
}

func (s *Server) updateSegment(req *request) (int, any, error) {
	id := req.r.PathValue("segment_id")
	doc, err := req.validBody(req.since12(s.schemas.segmentUpdate, s.schemas.segmentUpdate12))
	if err != nil {
		return 0, nil, err
	}
	b := doc.Get("segment")
	p := db.SegmentPatch{Name: patchString(b, "name"), RecoveryMethod: patchString(b, "recovery_method"),
		ServiceType: patchString(b, "service_type"), Enabled: patchBool(b, "enabled")}
	if v := b.Get("description"); v != nil {
		var d *string
		if v.Kind == jsontree.String {
			d = &v.Str
		}
		p.Description = &d
	}
	sg, err := s.store.UpdateSegment(req.r.Context(), id, p)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return 0, nil, segmentNotFound(id)
	case errors.Is(err, db.ErrSegmentNameExists):
		return 0, nil, errorf(409, "Failover segment with name %s already exists.", *p.Name)
	case errors.Is(err, db.ErrInUse):
		return 0, nil, errorf(409, "Failover segment %s can't be updated as it is in-use to process notifications.", id)
	case err != nil:
		return 0, nil, err
	}
	return 200, map[string]any{"segment": viewSegment(sg)}, nil
}

func (s *Server) deleteSegment(req *request) (int, any, error) {
	id := req.r.PathValue("segment_id")
	err := s.store.DeleteSegment(req.r.Context(), id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return 0, nil, segmentNotFound(id)
	case errors.Is(err, db.ErrInUse):
		return 0, nil, errorf(409, "Failover segment (%s) can't be deleted as it is in-use to process notifications.", id)
	case err != nil:
		return 0, nil, err
	}
	return 204, nil, nil
}

// ---- hosts

func hostError(err error, segmentID, hostID string) error {
	switch {
	case errors.Is(err, db.ErrHostOtherSegment):
		return errorf(404, "Host '%s' under failover_segment '%s' could not be found.", hostID, segmentID)
	case errors.Is(err, db.ErrNotFound):
		return errorf(404, "No host with id %s.", hostID)
	}
	return err
}

func (s *Server) segmentExists(req *request, id string) error {
	if _, err := s.store.Segment(req.r.Context(), id); errors.Is(err, db.ErrNotFound) {
		return segmentNotFound(id)
	} else if err != nil {
		return err
	}
	return nil
}

func (s *Server) checkCompute(req *request, name string) error {
	if s.compute == nil {
		return nil
	}
	ok, err := s.compute(req.r.Context(), name)
	if err != nil {
		return errorf(503, "The compute service could not be reached to check host %s: %v", name, err)
	}
	if !ok {
		return errorf(400, "Compute service with name %s could not be found.", name)
	}
	return nil
}

func (s *Server) listHosts(req *request) (int, any, error) {
	id := req.r.PathValue("segment_id")
	if err := s.segmentExists(req, id); err != nil {
		return 0, nil, err
	}
	p, err := req.page(s.settings.Load().MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	q := req.r.URL.Query()
	f := db.HostFilter{Type: optString(q, "type")}
	if f.OnMaintenance, err = strictBool(q, "on_maintenance"); err != nil {
		return 0, nil, err
	}
	if f.Reserved, err = strictBool(q, "reserved"); err != nil {
		return 0, nil, err
	}
	hosts, err := s.store.Hosts(req.r.Context(), id, f, p)
	if errors.Is(err, db.ErrNotFound) {
		return 0, nil, segmentNotFound(id)
	}
	if err != nil {
		return 0, nil, listError(err, p.Marker)
	}
	return listed("hosts", hosts, viewHost)
}

func (s *Server) createHost(req *request) (int, any, error) {
	id := req.r.PathValue("segment_id")
	doc, err := req.validBody(s.schemas.hostCreate)
	if err != nil {
		return 0, nil, err
	}
	if err := s.segmentExists(req, id); err != nil {
		return 0, nil, err
	}
	b := doc.Get("host")
	h := db.Host{Name: b.Get("name").Str, Type: b.Get("type").Str, ControlAttributes: b.Get("control_attributes").Str}
	if v := b.Get("reserved"); v != nil {
		h.Reserved = pyBool(v)
	}
	if v := b.Get("on_maintenance"); v != nil {
		h.OnMaintenance = pyBool(v)
	}
	if err := s.checkCompute(req, h.Name); err != nil {
		return 0, nil, err
	}
	created, err := s.store.CreateHost(req.r.Context(), id, h)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return 0, nil, segmentNotFound(id)
	case errors.Is(err, db.ErrHostNameExists):
		return 0, nil, errorf(409, "Host with name %s already exists.", h.Name)
	case err != nil:
		return 0, nil, err
	}
	return 201, map[string]any{"host": viewHost(created)}, nil
}

func (s *Server) showHost(req *request) (int, any, error) {
	sid, hid := req.r.PathValue("segment_id"), req.r.PathValue("host_id")
	if err := s.segmentExists(req, sid); err != nil {
		return 0, nil, err
	}
	h, err := s.store.Host(req.r.Context(), sid, hid)
	if err != nil {
		return 0, nil, hostError(err, sid, hid)
	}
	return 200, map[string]any{"host": viewHost(h)}, nil
}

func (s *Server) updateHost(req *request) (int, any, error) {
	sid, hid := req.r.PathValue("segment_id"), req.r.PathValue("host_id")
	doc, err := req.validBody(s.schemas.hostUpdate)
	if err != nil {
		return 0, nil, err
	}
	if err := s.segmentExists(req, sid); err != nil {
		return 0, nil, err
	}
	b := doc.Get("host")
	p := db.HostPatch{Name: patchString(b, "name"), Type: patchString(b, "type"), ControlAttributes: patchString(b, "control_attributes"),
		Reserved: patchBool(b, "reserved"), OnMaintenance: patchBool(b, "on_maintenance")}
	if p.Name != nil {
		if err := s.checkCompute(req, *p.Name); err != nil {
			return 0, nil, err
		}
	}
	h, err := s.store.UpdateHost(req.r.Context(), sid, hid, p)
	switch {
	case errors.Is(err, db.ErrHostNameExists):
		return 0, nil, errorf(409, "Host with name %s already exists.", *p.Name)
	case errors.Is(err, db.ErrInUse):
		return 0, nil, errorf(409, "Host %s can't be updated as it is in-use to process notifications.", hid)
	case err != nil:
		return 0, nil, hostError(err, sid, hid)
	}
	return 200, map[string]any{"host": viewHost(h)}, nil
}

func (s *Server) deleteHost(req *request) (int, any, error) {
	sid, hid := req.r.PathValue("segment_id"), req.r.PathValue("host_id")
	if err := s.segmentExists(req, sid); err != nil {
		return 0, nil, err
	}
	err := s.store.DeleteHost(req.r.Context(), sid, hid)
	switch {
	case errors.Is(err, db.ErrInUse):
		return 0, nil, errorf(409, "Host %s can't be deleted as it is in-use to process notifications.", hid)
	case err != nil:
		return 0, nil, hostError(err, sid, hid)
	}
	return 204, nil, nil
}

// ---- notifications

func (s *Server) listNotifications(req *request) (int, any, error) {
	p, err := req.page(s.settings.Load().MaxLimit)
	if err != nil {
		return 0, nil, err
	}
	q := req.r.URL.Query()
	f := db.NotificationFilter{Status: optString(q, "status"), SourceHostUUID: optString(q, "source_host_uuid"), Type: optString(q, "type")}
	if v, ok := q["generated-since"]; ok {
		t, err := recovery.ParseTime(v[0])
		if err != nil {
			return 0, nil, errorf(400, "Invalid generated-since value")
		}
		f.GeneratedSince = &t
	}
	ns, err := s.store.Notifications(req.r.Context(), f, p)
	if err != nil {
		return 0, nil, listError(err, p.Marker)
	}
	return listed("notifications", ns, req.viewNotification)
}

func (s *Server) createNotification(req *request) (int, any, error) {
	doc, err := req.validBody(s.schemas.notification)
	if err != nil {
		return 0, nil, err
	}
	b := doc.Get("notification")
	typ, hostname := b.Get("type").Str, b.Get("hostname").Str
	payload := b.Get("payload")
	if msg, ok := validate(s.schemas.payload[typ], payload); !ok {
		return 0, nil, errorf(400, "%s", msg)
	}
	gen, _ := recovery.ParseTime(b.Get("generated_time").Str)
	st := s.settings.Load()
	n, err := s.store.CreateNotification(req.r.Context(), db.NewNotification{Type: typ, Hostname: hostname, GeneratedTime: gen, Payload: payload.JSON()}, st.DuplicateWindow)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return 0, nil, errorf(400, "Host with name %s could not be found.", hostname)
	case errors.Is(err, db.ErrOnMaintenance):
		return 0, nil, errorf(409, "Notification received from host %s of type '%s' is ignored as the host is already under maintenance.", hostname, typ)
	case errors.Is(err, db.ErrDuplicate):
		return 0, nil, errorf(409, "Notification received from host %s of type %s is duplicate.", hostname, typ)
	case err != nil:
		return 0, nil, err
	}
	if s.Created != nil {
		s.Created(n)
	}
	return 202, map[string]any{"notification": req.viewNotification(n)}, nil
}

func notificationNotFound(id string) error { return errorf(404, "No notification with id %s.", id) }

// notification is the notification id names: 404 for an id that is not a
// UUID or names none.
func (s *Server) notification(req *request, id string) (db.Notification, error) {
	if _, err := uuid.Parse(id); err != nil {
		return db.Notification{}, notificationNotFound(id)
	}
	n, err := s.store.Notification(req.r.Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		return n, notificationNotFound(id)
	}
	return n, err
}

// ReleasedMessage is the message of a notification an operator released from
// the storm guard, until its recovery ends.
const ReleasedMessage = "Released from the storm guard by an operator: the host is recovered."

// releaseNotification (kaifuku; Masakari has no equivalent) lets a
// notification the storm guard held recover: it becomes new again, marked
// released, and the engine runs it without holding it again. 409 for a
// notification that is not held.
func (s *Server) releaseNotification(req *request) (int, any, error) {
	id := req.r.PathValue("notification_id")
	n, err := s.notification(req, id)
	if err != nil {
		return 0, nil, err
	}
	ctx := req.r.Context()
	ok, err := s.store.ReleaseHeld(ctx, id, ReleasedMessage)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errorf(409, "Notification %s is in status %s: only a notification the storm guard held can be released.", id, n.Status)
	}
	s.log.WithField("notification_uuid", id).Warn("storm guard: notification released by an operator; the host will be recovered")
	if n, err = s.store.Notification(ctx, id); err != nil {
		return 0, nil, err
	}
	if s.Created != nil {
		s.Created(n)
	}
	return 202, map[string]any{"notification": req.viewNotification(n)}, nil
}

func (s *Server) showNotification(req *request) (int, any, error) {
	n, err := s.notification(req, req.r.PathValue("notification_id"))
	if err != nil {
		return 0, nil, err
	}
	v := req.viewNotification(n)
	if req.minor >= 1 {
		runs, err := s.store.FlowRuns(req.r.Context(), n.UUID)
		if err != nil {
			return 0, nil, errorf(500, "Failed to fetch notification recovery workflow details for %s", n.UUID)
		}
		d, err := workflowDetails(n, runs)
		if err != nil {
			return 0, nil, errorf(500, "Failed to fetch notification recovery workflow details for %s", n.UUID)
		}
		v.RecoveryWorkflowDetails = &d
	}
	return 200, map[string]any{"notification": v}, nil
}
