package api

import (
	"fmt"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// TestGeneratedTimeSamePaths: the API and "kaifuku run" (which reads a
// notification with recovery.ParseNotification) accept and refuse the same
// generated_time values.
func TestGeneratedTimeSamePaths(t *testing.T) {
	sch, err := compileSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for value, ok := range map[string]bool{
		"2026-11-25T21:44:11": true, "2026-11-25T21:44:11.656788": true, "2026-11-25 21:44:11": true,
		"2026-11-25 21:44:11.656788": true, "2026-11-25T21:44:11Z": true, "2026-11-25T21:44:11+01:00": true,
		"2026-11-25T21:44:11.5+0100": true, "2026-11-25 21:44:11Z": true, "2026-11-25T21:44": true,
		"2026-11-25": true, " 2026-11-25T21:44:11 ": true,
		"yesterday": false, "2026-13-01T00:00:00": false, "2026/11/25 21:44:11": false,
		"2026-11-25T25:00:00": false, "21:44:11": false, "2026-11-25T21:44:11 +01:00": false,
	} {
		body := fmt.Sprintf(`{"notification": {"type": "PROCESS", "hostname": "compute-1", "generated_time": %q, "payload": {"event": "STOPPED", "process_name": "nova-compute"}}}`, value)
		doc, err := decodeBody([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, apiOK := validate(sch.notification, doc)
		_, runErr := recovery.ParseNotification([]byte(body))
		if apiOK != ok || (runErr == nil) != ok {
			t.Errorf("%q: API ok=%v (%s), run error %v; want ok=%v", value, apiOK, msg, runErr, ok)
		}
	}
}
