package recovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ParseNotification reads a Masakari notification request body,
// {"notification": {"type": ..., "hostname": ..., "generated_time": ...,
// "payload": {...}}}, and checks what the engine relies on. Errors name the
// field.
func ParseNotification(data []byte) (Notification, error) {
	var body struct {
		Notification *struct {
			Type          string         `json:"type"`
			Hostname      string         `json:"hostname"`
			GeneratedTime string         `json:"generated_time"`
			Payload       map[string]any `json:"payload"`
		} `json:"notification"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return Notification{}, fmt.Errorf("not a Masakari notification body: %w", err)
	}
	if body.Notification == nil {
		return Notification{}, errors.New(`missing "notification" object`)
	}
	b := body.Notification
	n := Notification{Type: b.Type, Hostname: b.Hostname, Payload: map[string]string{}}
	var errs []error
	switch b.Type {
	case TypeComputeHost, TypeVM, TypeProcess:
	case "":
		errs = append(errs, errors.New("notification.type: missing (one of COMPUTE_HOST, VM, PROCESS)"))
	default:
		errs = append(errs, fmt.Errorf("notification.type: %q is not one of COMPUTE_HOST, VM, PROCESS", b.Type))
	}
	if b.Hostname == "" {
		errs = append(errs, errors.New("notification.hostname: missing"))
	}
	if b.GeneratedTime == "" {
		errs = append(errs, errors.New("notification.generated_time: missing"))
	} else if t, err := ParseTime(b.GeneratedTime); err != nil {
		errs = append(errs, fmt.Errorf("notification.generated_time: %w", err))
	} else {
		n.GeneratedTime = t
	}
	keys := make([]string, 0, len(b.Payload))
	for k := range b.Payload {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := b.Payload[k].(string)
		if !ok {
			errs = append(errs, fmt.Errorf("notification.payload.%s: must be a string", k))
			continue
		}
		n.Payload[k] = s
	}
	need := map[string][]string{
		TypeComputeHost: {"event"},
		TypeVM:          {"instance_uuid", "vir_domain_event", "event"},
		TypeProcess:     {"process_name", "event"},
	}
	for _, k := range need[b.Type] {
		if _, ok := n.Payload[k]; !ok {
			errs = append(errs, fmt.Errorf("notification.payload.%s: missing (required for %s)", k, b.Type))
		}
	}
	return n, errors.Join(errs...)
}

// isoLayouts are the ISO 8601 forms oslo's parse_isotime accepts, as
// Masakari reads generated_time; a space may stand for the "T".
var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02",
	"2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05-0700",
}

// ParseTime reads a notification's generated_time (and the API's
// generated-since): with "T" or a space, with or without fractional
// seconds and a zone (UTC is assumed). The result is UTC. The API and
// "kaifuku run" both use it, so they accept the same values.
func ParseTime(s string) (time.Time, error) {
	v := strings.Replace(strings.TrimSpace(s), " ", "T", 1)
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time such as 2016-09-13T09:11:21.656788", s)
}
