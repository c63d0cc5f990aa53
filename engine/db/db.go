package db

import (
	"encoding/json"
	"errors"
	"time"
)

// TimeFormat is how timestamps are stored and shown (Masakari's API format).
const TimeFormat = "2006-01-02T15:04:05.000000"

// Errors callers test with errors.Is.
var (
	ErrNotFound          = errors.New("not found")
	ErrHostOtherSegment  = errors.New("host is in another segment")
	ErrSegmentNameExists = errors.New("segment name exists")
	ErrHostNameExists    = errors.New("host name exists")
	ErrInUse             = errors.New("in use to process notifications")
	ErrOnMaintenance     = errors.New("host is under maintenance")
	ErrDuplicate         = errors.New("duplicate notification")
	ErrMarkerNotFound    = errors.New("marker not found")
	ErrInvalidSortKey    = errors.New("invalid sort key")
)

// Segment is a failover segment.
type Segment struct {
	ID             int64
	UUID           string
	Name           string
	ServiceType    string
	Enabled        bool
	Description    *string
	RecoveryMethod string
	CreatedAt      time.Time
	UpdatedAt      *time.Time
}

// SegmentPatch changes a segment; nil fields are left alone.
type SegmentPatch struct {
	Name           *string
	ServiceType    *string
	Enabled        *bool
	Description    **string
	RecoveryMethod *string
}

// Host is a host of a failover segment.
type Host struct {
	ID                int64
	UUID              string
	Name              string
	SegmentUUID       string
	Segment           Segment
	Type              string
	Reserved          bool
	ControlAttributes string
	OnMaintenance     bool
	CreatedAt         time.Time
	UpdatedAt         *time.Time
}

// HostPatch changes a host; nil fields are left alone.
type HostPatch struct {
	Name              *string
	Type              *string
	ControlAttributes *string
	Reserved          *bool
	OnMaintenance     *bool
}

// Notification is a notification as stored. Payload keeps the JSON object
// the monitor sent, key order included.
type Notification struct {
	ID             int64
	UUID           string
	GeneratedTime  time.Time
	SourceHostUUID string
	SegmentUUID    string
	Type           string
	Payload        json.RawMessage
	Status         string
	Message        *string
	// Retry marks the periodic task's single retry of an error notification.
	Retry bool
	// Released marks a notification the storm guard held and an operator
	// released (ReleaseHeld).
	Released bool
	// Resumed is set by Claim when the notification was running under an
	// expired lease: its persisted progress is to be resumed.
	Resumed   bool
	CreatedAt time.Time
	UpdatedAt *time.Time
}

// PayloadMap decodes the payload (values are strings, as the API enforces).
func (n Notification) PayloadMap() map[string]string {
	out := map[string]string{}
	var raw map[string]any
	if json.Unmarshal(n.Payload, &raw) == nil {
		for k, v := range raw {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}

// NewNotification is what the API stores.
type NewNotification struct {
	Type          string
	Hostname      string
	GeneratedTime time.Time
	Payload       json.RawMessage
}

// Sort is one sort key and its direction.
type Sort struct {
	Key  string
	Desc bool
}

// Page selects a page of a list: Limit <= 0 means no limit; Marker is the
// integer id of the last row of the previous page (0: none).
type Page struct {
	Limit  int
	Marker int64
	Sort   []Sort
}

// SegmentFilter filters segment lists; nil fields match everything.
type SegmentFilter struct {
	RecoveryMethod *string
	ServiceType    *string
	Enabled        *bool
}

// HostFilter filters host lists.
type HostFilter struct {
	Type          *string
	OnMaintenance *bool
	Reserved      *bool
}

// NotificationFilter filters notification lists.
type NotificationFilter struct {
	Status         *string
	SourceHostUUID *string
	Type           *string
	GeneratedSince *time.Time
}

// FlowRun is the persisted progress of one flow run of a notification.
type FlowRun struct {
	Flow    string
	Seq     int
	Store   json.RawMessage // nil until the first task succeeded
	Records []json.RawMessage
}

// Statuses in which a notification keeps its segment and host in use.
var unfinished = []string{"new", "running", "error", "held"}

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

func parseTime(s string) (time.Time, error) {
	return time.ParseInLocation(TimeFormat, s, time.UTC)
}
