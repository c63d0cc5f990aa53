package daemontest

import "fmt"

// HostDownFixture is a simulated cloud for NewEnv in which a host has
// failed: compute1's nova-compute is dead (reported down) with two
// HA-enabled servers, app-1 and app-2; compute2 hosts one more, vm-1, and
// compute3 is empty. API calls take 1 ms, stops and starts 20 ms and
// evacuations evacuateMS.
func HostDownFixture(evacuateMS int) string {
	return fmt.Sprintf(`{
  "hosts": [
    {"name": "compute1", "status": "enabled", "state": "down"},
    {"name": "compute2", "status": "enabled", "state": "up"},
    {"name": "compute3", "status": "enabled", "state": "up"}
  ],
  "servers": [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "app-1", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "app-2", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "44444444-4444-4444-8444-444444444444", "name": "vm-1", "host": "compute2", "metadata": {"HA_Enabled": "True"}}
  ],
  "latency_ms": {"api": 1, "stop": 20, "start": 20, "evacuate": %d}
}`, evacuateMS)
}
