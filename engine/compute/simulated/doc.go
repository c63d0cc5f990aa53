// Package simulated is an in-memory Nova, the simulated cloud. `kaifuku run --cloud FILE` plays notifications against
// it, `kaifuku serve` uses it by default (`[compute] driver = simulated`, with the demo cloud
// `conf/examples/demo-cloud.json` unless `[compute] fixture = FILE` names another), and the test harness runs
// every task on it. It is not a stub. It behaves the way Nova behaves towards Masakari's tasks: compute services
// that go down after their heartbeat stops, evacuations refused while the source is up, a scheduler, state
// changes that take time, Nova's error codes and messages, and the 60-second wait that nova-api adds when you
// disable the service of a dead host too early.
//
// All time in the simulated cloud runs on kaifuku's clock. Tests and `kaifuku run` use a virtual clock, so a
// recovery that takes minutes of Nova time finishes in milliseconds.
//
// # Fixture format
//
// A fixture is one JSON object. Parsing is strict. A key the format does not know is an error, and the error
// suggests the closest known key. Values of the wrong type are errors, and so are inconsistent contents (a
// server on a host that does not exist, duplicate ids or names, an unknown `vm_state`, a fault naming an
// unknown operation). Each error gives the file, line, column and key path, and every problem in the file is
// reported, not just the first. For example, this fixture:
//
//	{"hosts": [
//	   {"name": "compute1", "state": "down"},
//	   {"name": "compute2"},
//	   {"name": "compute3", "status": "disabled", "reserverd": true}],
//	 "servers": [
//	   {"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "name": "vm1", "host": "compute9",
//	    "vm_state": "actve", "metadata": {"HA_Enabled": true}}],
//	 "faults": [{"op": "evacute", "server": "vm1", "error": "never"}]}
//
// is refused with:
//
//	cloud.json:4:47: hosts[2]: unknown key "reserverd" (did you mean "reserved"?)
//	cloud.json:6:74: servers[0].host: unknown host "compute9" (did you mean "compute1"?)
//	cloud.json:7:17: servers[0].vm_state: unknown vm_state "actve" (did you mean "active"?)
//	cloud.json:7:53: servers[0].metadata.HA_Enabled: metadata values are strings in Nova, got true or false (write "True")
//	cloud.json:8:20: faults[0].op: unknown op "evacute" (did you mean "evacuate"?)
//
// A JSON syntax error gives its line and column as well, for example `cloud.json:3:4: invalid character '{'
// after array element` for a missing comma.
//
// Top level:
//
//	| key | default | meaning |
//	| `hosts` | (required, at least one) | compute hosts, each with its `nova-compute` service |
//	| `servers` | none | servers (instances) |
//	| `latency_ms` | all 0 | `api`: every API call; `stop`, `start`, `evacuate`: the work behind an accepted action (milliseconds) |
//	| `service_down_time` | 60 | Nova's `service_down_time` (seconds): how long a dead host is still reported `up` |
//	| `rpc_timeout` | 60 | Nova's `rpc_response_timeout` (seconds): see "Nova's 60 s trap" below |
//	| `faults` | none | failures to inject (see below) |
//
// `hosts[]`:
//
//	| key | default | meaning |
//	| `name` | (required, unique) | host name (the service's `host`) |
//	| `status` | `enabled` | `enabled` or `disabled` |
//	| `disabled_reason` | none | only with `status: disabled` |
//	| `state` | `up` | what Nova reports at the start. `down` means the host's nova-compute died long ago |
//	| `failed` | `false` | the nova-compute has *just* died: Nova still reports `up` for `service_down_time` seconds |
//	| `forced_down` | `false` | the service is forced down (always reported `down`; `state: up` with it is an error) |
//	| `reserved` | `false` | a reserved host: `kaifuku run` uses these hosts as the segment's reserved hosts, in file order |
//	| `aggregates` | none | names of the host aggregates it belongs to. Aggregate ids are 1..n in name order |
//	| `hypervisor_hostname` | the name | what servers on this host report as `OS-EXT-SRV-ATTR:hypervisor_hostname` |
//	| `service_id` | derived from the name | the service's UUID. The default is the same on every load |
//	| `max_servers` | 0 (no limit) | how many servers the scheduler may place there |
//
// `servers[]`:
//
//	| key | default | meaning |
//	| `id` | (required, UUID, unique) | server id |
//	| `name` | (required, unique) | server name |
//	| `host` | (required) | a host of `hosts` |
//	| `vm_state` | `active` | any Nova vm_state (`active`, `stopped`, `error`, `paused`, `suspended`, `rescued`, `resized`, `shelved`, `shelved_offloaded`, `building`, `soft-deleted`, `deleted`) |
//	| `task_state` | `null` | `null` or any Nova task_state (`powering-off`, `rebuilding`, `migrating`, ...). A task_state given here stays until something resets it, like a server stuck mid-operation |
//	| `power_state` | from vm_state | 0 no state, 1 running, 3 paused, 4 shutdown, 6 crashed, 7 suspended |
//	| `locked` | `false` | |
//	| `metadata` | `{}` | string values, e.g. `{"HA_Enabled": "True"}` |
//	| `tenant_id`, `user_id` | empty | |
//	| `status` | derived | optional. If given, it must match what Nova derives from vm_state and task_state (`SHUTOFF` for stopped, ...) |
//
// `faults[]`:
//
//	| key | default | meaning |
//	| `op` | (required) | `evacuate`, `stop`, `start`, `reset_state`, `lock`, `unlock`, `get_server`, `list_servers`, `list_servers_changed`, `list_services`, `update_service` (any service update), `disable_service`, `enable_service`, `force_down`, `force_up`, `list_aggregates`, `add_host_to_aggregate` |
//	| `server` | any | a server id or name (only for server operations) |
//	| `host` | any | the server's current host, or the host a service, server list or aggregate call is about |
//	| `error` | (required) | `conflict` (409), `not_found` (404), `invalid` (400), `forbidden` (403), `unavailable` (500), `error`, `never` |
//	| `count` | 0 (every call) | how many matching calls the fault hits before it clears itself |
//
// `error` on `evacuate`, `stop` or `start` means Nova accepts the action, and when the work would have finished
// the server goes to vm_state `error`. On any other operation it is a 500. `never` (only for `evacuate`,
// `stop`, `start`) means the action is accepted and never finishes: the server keeps its task_state until its
// state is reset. The other kinds make the call fail at once with that HTTP code.
//
// Example, with every key (`conf/examples/cloud.json` is a fuller one):
//
//	{"hosts": [
//	   {"name": "compute1", "status": "enabled", "state": "down", "forced_down": false,
//	    "reserved": false, "aggregates": ["agg1"]},
//	   {"name": "compute2", "status": "enabled", "state": "up"},
//	   {"name": "compute3", "status": "disabled", "state": "up", "reserved": true}],
//	 "servers": [
//	   {"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "name": "vm1", "host": "compute1",
//	    "vm_state": "active", "task_state": null, "power_state": 1, "locked": false,
//	    "metadata": {"HA_Enabled": "True"}}],
//	 "latency_ms": {"api": 0, "stop": 0, "start": 0, "evacuate": 0},
//	 "service_down_time": 60,
//	 "faults": [{"op": "evacuate", "server": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "error": "never"}]}
//
// Shipped examples, in `conf/examples/`:
//
//   - `demo-cloud.json` is the demo cloud of `kaifuku serve`. It has compute1 to compute3 up and enabled, and
//     compute4 reserved and disabled. There are six servers, some HA_Enabled, one of them stopped. Latencies
//     are a few seconds, so a recovery can be watched.
//
//   - `cloud.json` is for `kaifuku run` and the three scenarios. compute1 is down and has HA_Enabled servers
//     in the states Masakari treats differently (active, stopped, error, active with a task in progress) plus
//     one non-HA server. compute4 is reserved. `agg1` holds compute1 and compute2.
//
//   - `notifications/host-failure.json`, `instance-failure.json` and `process-failure.json` are Masakari
//     request bodies that match `cloud.json`:
//
//     kaifuku run --cloud conf/examples/cloud.json --notification conf/examples/notifications/host-failure.json
//     kaifuku run --cloud conf/examples/cloud.json --notification conf/examples/notifications/host-failure.json --recovery-method reserved_host
//     kaifuku run --cloud conf/examples/cloud.json --notification conf/examples/notifications/instance-failure.json
//     kaifuku run --cloud conf/examples/cloud.json --notification conf/examples/notifications/process-failure.json
//
// # How it behaves (as Nova does)
//
//   - Services. Every host has one `nova-compute` service, identified by a UUID (microversion 2.53). When
//     a host fails, Nova reports its service `down` only once the last heartbeat is older than
//     `service_down_time`. A forced-down service is reported `down` at once. A service update with neither
//     `status` nor `forced_down` is a 400, and so is `disabled_reason` with `status: enabled`. Without a status,
//     `disabled_reason` is ignored, as in Nova. An unknown
//     service id is a 404.
//
//   - Nova's 60 s trap. Enabling or disabling a service makes nova-api call that compute over RPC, as long
//     as Nova still believes the service is up. If the host is in fact dead, the call waits out the RPC timeout
//     (60 s by default) before the API answers. The change itself is saved at once. This was measured on a real
//     Nova (Zed): every disable Masakari sent right after a failure took 60.02 to 60.04 s. The simulated cloud
//     answers such a call only after `rpc_timeout`. Forcing the service down first, or waiting until Nova
//     reports it down, avoids the wait, and so does sending `forced_down: true` in the same request.
//     `disable_compute_service_task` in kaifuku does exactly that. Masakari sleeps a fixed 180 s on top of the
//     60 s. To watch the difference, mark a host `"state": "up", "failed": true` in a copy of `cloud.json`.
//     Then `kaifuku run` of `host-failure.json` waits about 60 s of Nova time for the service to be reported
//     down, and with `[host_failure] force_down_service = true` it disables the service within milliseconds.
//
//   - Evacuate. The checks come in Nova's order:
//
//   - unknown server: 404 `Instance <id> could not be found.`
//
//   - unknown target host: 404 `Compute host <h> not found.`
//
//   - target equal to the source: 400 `The target host can't be the same one.`
//
//   - vm_state not active, stopped or error: 409 `Cannot 'evacuate' instance <id> while it is in vm_state <s>`
//
//   - source service still reported up, even if disabled or already dead: 400 `Compute service of <h> is
//     still in use.`
//
//     The task_state is not checked. This is Nova's behaviour since the fix for its bug 1978983, which Zed
//     26.2.2 includes. A server stuck `powering-off` on a dead host can be evacuated. So can a server that is already being
//     evacuated: the new evacuation replaces the one under way, and both are counted. Callers must not
//     evacuate a server twice.
//
//     Once accepted, the server has task_state `rebuilding` (status `REBUILD`) for `latency_ms.evacuate`. Then
//     its host and hypervisor_hostname become the destination's: an active server stays active, a stopped one
//     stays stopped, and an error one becomes active.
//
//   - Scheduler. With no target, the scheduler picks a host other than the source that is enabled, reported
//     up, not forced down and below `max_servers`. It takes the host with the fewest servers, counting
//     evacuations already on their way to it; ties go to the name that sorts first. A requested target must
//     pass the same checks. If no host passes, the API has already answered 200 and the server goes to vm_state
//     `error`, as with Nova's NoValidHost. A host whose nova-compute is dead but which Nova still reports up can
//     be chosen, as in Nova. The rebuild then waits until that host is restarted.
//
//   - Stop and start. Stop is allowed from active or error. The server has task_state
//     `powering-off`, then after `latency_ms.stop` it is `stopped` with power_state 4. Start is allowed from
//     stopped only: `powering-on`, then `active` with power_state 1. Anything else is a 409 with Nova's `Cannot
//     'stop' instance ... while it is in vm_state stopped` text. A stop or start sent to a dead host is accepted
//     and waits for the host's restart, as the RPC message does in Nova.
//
//   - Reset state sets vm_state to `active` or `error` (anything else is a 400) and clears task_state. Work
//     still in progress on the server is abandoned.
//
//   - Lock and unlock set `locked`. The caller is an administrator, as Masakari's privileged user is, so a
//     lock never blocks an action.
//
//   - Aggregates come from the hosts' `aggregates` lists. Adding a host that is already a member is 409
//     `Aggregate <id> already has host <h>.`; an unknown aggregate or host is a 404.
//
//   - After a failure. While `done` evacuations from a host remain, forcing its service up is refused with
//     Nova's 400 `Unable to force up host ... as done evacuation migration records remain ...`. Restarting the
//     host's nova-compute marks those evacuations `completed`.
//
//   - Every API call first waits `latency_ms.api`. Server lists are returned in fixture order.
//
// Errors carry Nova's HTTP code and message and match the compute error kinds of `engine/compute` with
// `errors.Is`: 400 is invalid, 403 forbidden, 404 not found, 409 conflict, 500 unavailable. Example:
// `Compute service of compute1 is still in use. (HTTP 400)`.
//
// # Inspecting and steering it
//
// The Go API of this package, on which the test harness, `kaifuku run --json` and the
// `/sim/` control endpoints of `kaifuku simcloud` are built:
//
//   - `FailHost(h)` kills a host's nova-compute now. It is reported down after `service_down_time`, or at once
//     if it is forced down.
//   - `RestartHost(h)` brings the nova-compute back.
//   - `RecoverHost(h)` is the operator's step after a failure: restart, force up and enable.
//   - `InjectFault(f)` adds a fault, checked like a fixture's faults. `ClearFaults()` removes them all, and
//     `Faults()` lists those still active.
//   - `Counters()` gives the number of API calls per operation, per server and per host, and the evacuations
//     Nova accepted per server (calls Nova refused are counted as calls).
//   - `Snapshot()` returns servers, services, aggregates, evacuation records and active faults as JSON-ready
//     values.
//   - `Hosts()` and `ReservedHosts()` list the hosts as the fixture declared them.
//   - `Export()` writes the current state as a fixture, which can be saved and loaded again. Work still under
//     way cannot be written down: a server caught mid-action keeps its task_state and stays stuck in it.
//
// # Limits: what Nova does that the simulation does not
//
//   - There is one `nova-compute` per host and no other services, cells, availability zones or scheduler
//     filters beyond the ones above. Aggregates do not influence scheduling. There is no network, volume,
//     image, flavor or quota.
//   - Nova lists servers newest first. The simulation lists them in fixture order.
//   - During an evacuation, the host switches to the destination when the rebuild finishes. Nova switches it
//     slightly earlier, while task_state is still `rebuild_spawning`.
//   - A host that fails while an action is running on it does not interrupt that action.
//   - There are no instance actions, events or fault details (`server.fault`), and `updated_at` timestamps are
//     not reported.
//   - A fixture cannot express an action half done: a `task_state` in a fixture stays until it is reset.
//   - The last heartbeat of a failed host is taken to be the moment it failed. Nova's heartbeats come every
//     `report_interval` (10 s), so a real Nova may report the host down up to 10 s sooner.
//   - A stopped server that is evacuated goes straight to `stopped` on its new host. Nova briefly shows it
//     `active` and then `powering-off` first.
package simulated
