package recovery_test

import (
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

func TestParseNotificationNamesMissingAndBadFields(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"missing type",
			`{"notification": {"hostname": "compute1", "generated_time": "2026-01-02T03:04:05", "payload": {"event": "STOPPED"}}}`,
			"notification.type: missing (one of COMPUTE_HOST, VM, PROCESS)"},
		{"unknown type",
			`{"notification": {"type": "HOST", "hostname": "compute1", "generated_time": "2026-01-02T03:04:05", "payload": {"event": "STOPPED"}}}`,
			`notification.type: "HOST" is not one of COMPUTE_HOST, VM, PROCESS`},
		{"missing hostname",
			`{"notification": {"type": "COMPUTE_HOST", "generated_time": "2026-01-02T03:04:05", "payload": {"event": "STOPPED"}}}`,
			"notification.hostname: missing"},
		{"missing payload key",
			`{"notification": {"type": "VM", "hostname": "compute1", "generated_time": "2026-01-02T03:04:05", "payload": {"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED"}}}`,
			"notification.payload.instance_uuid: missing (required for VM)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := recovery.ParseNotification([]byte(c.body))
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want exactly %q", err, c.want)
			}
		})
	}
	if _, err := recovery.ParseNotification([]byte(`{"notification": {"type": "COMPUTE_HOST", "hostname": "compute1", "generated_time": "2026-01-02T03:04:05", "payload": {"event": "STOPPED"}}}`)); err != nil {
		t.Fatalf("valid body refused: %v", err)
	}
	if _, err := recovery.ParseNotification([]byte(`{"notification": {"type": "VM"`)); err == nil || !strings.Contains(err.Error(), "not a Masakari notification body") {
		t.Fatalf("truncated body: %v", err)
	}
}
