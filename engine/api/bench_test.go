package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkCreateNotification posts VM notifications to the API in process
// (real SQLite, loopback HTTP), without the engine.
func BenchmarkCreateNotification(b *testing.B) {
	f := newAPIB(b)
	seg := `{"segment": {"name": "s", "recovery_method": "auto", "service_type": "COMPUTE"}}`
	var segID string
	{
		resp := f.post(b, "/v1/segments", seg)
		segID = resp[strings.Index(resp, `"uuid":"`)+8:][:36]
	}
	for i := 1; i <= 4; i++ {
		f.post(b, "/v1/segments/"+segID+"/hosts", fmt.Sprintf(`{"host": {"name": "compute-%d", "type": "COMPUTE", "control_attributes": "SSH"}}`, i))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			body := fmt.Sprintf(`{"notification": {"type": "VM", "hostname": "compute-%d", "generated_time": %q, "payload": {"event": "LIFECYCLE", "instance_uuid": %q, "vir_domain_event": "STOPPED_FAILED"}}}`,
				i%4+1, time.Now().UTC().Format("2006-01-02T15:04:05.000000"), uuid.NewString())
			req, _ := http.NewRequest("POST", f.srv.URL+"/v1/notifications", strings.NewReader(body))
			req.Header.Set("X-Auth-Token", adminToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 202 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
