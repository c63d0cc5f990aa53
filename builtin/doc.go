// Package builtin holds Masakari's nine recovery tasks, written in Go, and kaifuku's opt-in
// fence_host_task (see package fence). The nine have Masakari's
// names, so an existing `[taskflow_driver_recovery_flows]` section works unchanged.
// They also record the same progress messages, with the same fractions, in
// `recovery_workflow_details`, and they end a notification with the same status.
// The store contract is Masakari 14.0.2's: `prepare_HA_enabled_instances_task`
// provides `instance_list` and `evacuate_instances_task` requires it.
//
//	| task (configured name) | atom name in `recovery_workflow_details` | requires | optional | provides | default flow |
//	| `disable_compute_service_task` | `DisableComputeServiceTask` | `host_name` | | | host auto and host rh, `pre` |
//	| `prepare_HA_enabled_instances_task` | `PrepareHAEnabledInstancesTask` | `host_name` | | `instance_list` | host auto `main`, host rh `main` |
//	| `evacuate_instances_task` | `EvacuateInstancesTask` | `host_name`, `instance_list` | `reserved_host` | | host auto `post`, host rh `main` |
//	| `stop_instance_task` | `StopInstanceTask` | `instance_uuid` | | | instance `pre` |
//	| `start_instance_task` | `StartInstanceTask` | `instance_uuid` | | | instance `main` |
//	| `confirm_instance_active_task` | `ConfirmInstanceActiveTask` | `instance_uuid` | | | instance `post` |
//	| `disable_compute_node_task` | `DisableComputeNodeTask` | `process_name`, `host_name` | | | process `pre` |
//	| `confirm_compute_node_disabled_task` | `ConfirmComputeNodeDisabledTask` | `process_name`, `host_name` | | | process `main` |
//	| `no_op` | `masakari.engine.drivers.taskflow.no_op.Noop` | | | | (none) |
//
// Every flow starts with a few keys already in its store. Host flows have `host_name` and
// `notification_uuid`, plus `reserved_host_list` in the reserved-host flow. Instance flows have
// `instance_uuid` and `notification_uuid`. Process flows have `process_name`, `host_name` and
// `notification_uuid`. In the reserved-host flow, `main` runs once per reserved host until one
// attempt succeeds, and the tasks of `main` see the host being tried as `reserved_host`.
// `kaifuku flows` prints, for each task of your flows, where each key it reads comes from.
//
// Built-in tasks take no settings of their own. A section named after a built-in task
// (`[evacuate_instances_task]`) with any key in it is refused when the flows are built
// (`kaifuku check` exits 1), naming the key and where it is set:
//
//	kaifuku: [evacuate_instances_task] task "evacuate_instances_task": unknown setting threads (kaifuku.conf:5): built-in tasks take their options from [DEFAULT], [host_failure], [instance_failure] and [process_failure]
//
// # Options the tasks read
//
// All options keep Masakari's names, sections and defaults. One option is new:
// `[host_failure] force_down_service`.
//
//	| option | default | used by |
//	| `[DEFAULT] verify_interval` | 1 s | every wait: how often Nova is polled |
//	| `[DEFAULT] wait_period_after_service_update` | 180 s | `disable_compute_service_task`: the longest wait for Nova to report the service down. `confirm_compute_node_disabled_task`: its timeout |
//	| `[DEFAULT] wait_period_after_evacuation` | 90 s | `evacuate_instances_task`: per server, until the evacuation is confirmed |
//	| `[DEFAULT] wait_period_after_power_off` | 180 s | `stop_instance_task`; `evacuate_instances_task` when it stops a server after evacuating it |
//	| `[DEFAULT] wait_period_after_power_on` | 60 s | `confirm_instance_active_task` |
//	| `[DEFAULT] host_failure_recovery_threads` | 3 | `evacuate_instances_task`: evacuations in parallel (values below 1 count as 1) |
//	| `[compute] max_concurrent_evacuations` (kaifuku) | 0 (none) | `evacuate_instances_task`: evacuations in flight across every host the engine recovers, granted to the hosts in turn, HA-enabled servers first; a server waits for a slot after its first read, before it is locked |
//	| `[host_failure] evacuate_all_instances` | true | `prepare_HA_enabled_instances_task`: also evacuate servers that are not HA-enabled, after the HA-enabled ones |
//	| `[host_failure] ha_enabled_instance_metadata_key` | `HA_Enabled` | `prepare_HA_enabled_instances_task` |
//	| `[host_failure] ignore_instances_in_error_state` | false | `prepare_HA_enabled_instances_task`: leave servers in vm_state `error` behind |
//	| `[host_failure] add_reserved_host_to_aggregate` | false | `evacuate_instances_task`: add the reserved host to every aggregate of the failed host |
//	| `[host_failure] service_disable_reason` | `Masakari detected host failed.` | `disable_compute_service_task` |
//	| `[host_failure] force_down_service` (kaifuku) | false | `disable_compute_service_task`: force the failed host's service down instead of waiting until Nova reports it down |
//	| `[instance_failure] process_all_instances` | false | `stop_instance_task`: recover servers that are not HA-enabled too |
//	| `[instance_failure] ha_enabled_instance_metadata_key` | `HA_Enabled` | `stop_instance_task` |
//	| `[process_failure] service_disable_reason` | `Masakari detected process failed.` | `disable_compute_node_task` |
//
// A server is HA-enabled when its metadata value under the key is `1`, `t`, `true`, `on`, `y` or
// `yes`, in any case and with spaces around it allowed (oslo's `bool_from_string`).
// Anything else is false, and so is a missing key. The key itself is case-sensitive.
// A `verify_interval` of 0 or less counts as 1 s: a poll that never pauses would spin.
//
// Every wait checks Nova at once, then early at 0.1, 0.2, 0.4 and 0.8 s (each check at twice the
// time of the one before, the last cut short to meet `verify_interval`), then every
// `verify_interval`: a fast Nova is
// noticed at once and a slow one is not hammered. The interval is measured from the start of
// each check, so a slow API call does not stretch it. The evacuations of a host in flight are
// confirmed together: each round of their polls is one list of the servers changed since 250 ms
// before the earliest of them was asked for (Nova's `changes-since`), not one read per server;
// rounds fall on a 20 ms grid so that evacuations started apart meet in them, and an evacuation
// waiting for its next check looks at every round the others made meanwhile, so it is seen done
// within a round of its end. A server no list has shown after a `verify_interval` (a clock far
// from Nova's) is read on its own. The wait gives up once its timeout has passed.
//
// # What each task does
//
// Texts in backquotes are the exact progress messages, with their fractions. `<host>`, `<id>` and
// similar are filled in.
//
// `disable_compute_service_task` makes the scheduler stop placing servers on the failed
// host. It finds the host's `nova-compute` service. Then:
//
//   - If Nova still reports the service up, it waits until Nova reports it down. With
//     `force_down_service = true` it forces the service down instead.
//   - It disables the service with `service_disable_reason`. If the service is already
//     disabled, it leaves it alone, so a resumed run changes nothing.
//
// Messages:
//
//   - `Disabling compute service on host: '<host>'` (0.0)
//   - only with `force_down_service`, when the service is up: `Forcing down compute service on host: '<host>'` (0.1), then `Forced down compute service on host: '<host>'` (0.5)
//   - if Nova refuses to force it down (policy, or a Nova older than microversion 2.11): `Could not force down compute service on host '<host>': <error>` (0.2). The task then waits, as without the option.
//   - while the service is still reported up: `Waiting for Nova to report compute service on host '<host>' down before disabling it` (0.2), then one of
//   - `Nova reports compute service on host '<host>' down after <s> s` (0.5)
//   - `Compute service on host '<host>' still reported up after <s> s; disabling it anyway` (0.5), with a warning in the log
//   - `Compute service on host '<host>' is already disabled` (0.9), when it was
//   - `Disabled compute service on host: '<host>'` (1.0)
//
// The task fails with Nova's error when there is no `nova-compute` service on the host, or
// when a Nova call fails (notification `error`).
//
// `prepare_HA_enabled_instances_task` lists the servers on the failed host (all tenants).
// It keeps the HA-enabled ones, then, with `evacuate_all_instances`, the others. Each group
// stays in Nova's list order. With `ignore_instances_in_error_state`, servers in vm_state
// `error` are dropped. It provides `instance_list`, the ids of the kept servers. Messages:
// `Preparing instances for evacuation` (0.0), `Total instances running on failed host '<host>' is <n>` (0.3),
// `Ignoring recovery of HA_Enabled instance '<id>' as it is in 'error' state.` (0.4, once for each
// HA-enabled server it drops), `Total HA Enabled instances count: '<n>'` (0.6), and with
// `evacuate_all_instances`: `Total Non-HA Enabled instances count: '<n>'` (0.7) and
// `All instances (HA Enabled/Non-HA Enabled) should be considered for evacuation. Total count is: '<n>'` (0.8).
// It ends with `Instances to be evacuated are: '<id>,<id>,...'` (1.0). With nothing to evacuate it
// records `Skipped host '<host>' recovery as no instances needs to be evacuated` (1.0) and
// ends the flow early: the notification is `finished`.
//
// `evacuate_instances_task` records
// `Start evacuation of instances from failed host '<host>', instance uuids are: '<ids>'` (0.0).
//
// In the reserved-host flow it then readies the reserved host:
//
//  1. It claims the reserved host for this notification (Masakari's lock on the host). If
//     another recovery holds it, the attempt fails with `Lock is already acquired on <reserved host>.` and the recovery
//     tries the next reserved host.
//  2. It records `Enabling reserved host: '<reserved host>'` (0.1).
//  3. With `add_reserved_host_to_aggregate`, for every aggregate that contains the failed host,
//     it records `Add host <reserved host> to aggregate <aggregate>` (0.2) and adds the host.
//     On success it records `Added host <reserved host> to aggregate <aggregate>` (0.3). If the
//     host is already a member (Nova's 409), it records
//     `Host '<reserved host>' already has been added to aggregate '<aggregate>'.` (1.0) and
//     carries on.
//  4. It enables the reserved host's compute service.
//  5. It marks the host as no longer reserved in the segment.
//
// None of this is undone if the evacuation then fails. Masakari behaves the same way.
//
// Then it evacuates the servers, up to `host_failure_recovery_threads` at a time. For each
// server it records `Evacuation of instance started: '<id>'` (0.5). It locks the server
// (a server the user had locked is neither locked nor unlocked) and evacuates it to the
// reserved host, or lets Nova's scheduler choose in the auto flow. It confirms the
// evacuation by polling until the server's hypervisor is no longer the failed host, then
// unlocks the server. The unlock happens even when the task was cancelled or ran out of time.
//
// What happens before and after the evacuation depends on the server's state (Masakari's rules):
//
//	| vm_state | task_state | before evacuating | after evacuating |
//	| `active` | none | nothing | nothing (active) |
//	| `active` | set | reset to `error` | nothing (active) |
//	| `stopped` | none | nothing | nothing (Nova rebuilds it stopped) |
//	| `stopped` | set | reset to `error` | stop it (stopped) |
//	| `error` | any | reset to `error` if a task_state is set | stop it, then reset to `error` |
//	| `paused`, `rescued`, `suspended`, `shelved`, ... | any | reset to `error` | stop it (stopped) |
//	| `resized` | any | reset to `error` | stop it only if its power state is shutdown |
//
// A server fails if Nova refuses one of these calls, or if it goes to `error` during the
// rebuild. It also fails if the evacuation is not confirmed within
// `wait_period_after_evacuation`, or if the stop afterwards does not finish within
// `wait_period_after_power_off`. One failed server does not stop the others. At the end the
// task records `Successfully evacuate instances '<ids, sorted>' from host '<host>'` (0.7) if any
// succeeded. If any failed, it records `Failed to evacuate instances '<ids>' from host '<host>'`
// (0.7) and the recovery fails with that text (notification `error`; in the reserved-host flow
// the next reserved host is tried first). Otherwise it records `Evacuation process completed!` (1.0).
//
// `stop_instance_task` reads the server.
//
//   - If it is not HA-enabled (and `process_all_instances` is off), the task records
//     `Skipping recovery for instance: <id> as it is not Ha_Enabled` (1.0). The notification is
//     `finished`.
//   - If it is `paused` or `rescued`, the task records
//     `Recovery of instance '<id>' is ignored as it is in '<state>' state.` (1.0). The
//     notification is `ignored`.
//   - Otherwise, unless it is already `stopped`, the task resets a `resized` server to `active`
//     and records `Stopping instance: <id>` (0.0). It then stops the server. If Nova answers 409,
//     it records `Conflict when stopping instance: <id>` (0.0) and carries on only if the server
//     is stopped by now; otherwise Nova's conflict ends the recovery with `error`.
//
// It then waits up to `wait_period_after_power_off` and records
// `Stopped instance: '<id>'` (1.0), or `Failed to stop instance <id>` (1.0) and fails.
//
// `start_instance_task` records `Starting instance: '<id>'` (0.0). It starts the server if it is
// `stopped`, without waiting, and records `Instance started: '<id>'` (1.0). Otherwise it records
// `Invalid state for Instance <id>. Expected state: 'STOPPED', Actual state: '<state>'` (1.0) and
// fails.
//
// `confirm_instance_active_task` records `Confirming instance '<id>' vm_state is ACTIVE` (0.0)
// and waits up to `wait_period_after_power_on`. It records
// `Confirmed instance '<id>' vm_state is ACTIVE` (1.0), or `Failed to start instance <id>` (1.0)
// and fails.
//
// `disable_compute_node_task` records `Disabling compute service on host: '<host>'` (0.0). If the
// `<process_name>` service on the host is not disabled yet, it disables the host's `nova-compute`
// with `[process_failure] service_disable_reason` and records
// `Disabled compute service on host: '<host>'` (1.0). Otherwise it records
// `Skipping recovery for process <process_name> as it is already disabled` (1.0) and the flow
// goes on.
//
// `confirm_compute_node_disabled_task` records
// `Confirming compute service is disabled on host: '<host>'` (0.0) and waits up to
// `wait_period_after_service_update`. It records
// `Confirmed compute service is disabled on host: '<host>'` (1.0), or
// `Failed to disable service <process_name>` (1.0) and fails.
//
// `no_op` logs `Custom task executed successfully..!!` and records nothing, so it never
// appears in `recovery_workflow_details`. Use it to fill a phase.
//
// Built-in tasks have nothing to undo when a later task fails; their revert does nothing.
// Nova errors (refusals, 404, 409, 5xx, timeouts) end the recovery with `error`, and the
// notification's log line carries Nova's message.
//
// # Where the tasks differ from Masakari
//
// No fixed 180 s sleep after disabling a failed host. Masakari disables the failed host's
// `nova-compute` service right away, then always sleeps `wait_period_after_service_update`
// (180 s). Measured on a real Nova, that disable call itself takes 60 s when it comes right
// after the failure. Nova still believes the service is up, so nova-api calls the dead
// compute over RPC and waits out its 60 s timeout. One server that Nova could evacuate in
// 1.1 s took Masakari 242 s to recover. `disable_compute_service_task` instead polls until
// Nova reports the service down, which happens once the heartbeat is older than Nova's
// `service_down_time` (60 s by default). Only then does it disable the service, which now
// answers at once. With `[host_failure] force_down_service = true` it forces the service down
// first and needs no wait. A forced-down service stays down until an operator forces it up
// again (`openstack compute service set --up <host> nova-compute`) after repairing the host.
// That is why the option is off by default. A service Nova already reports down is never
// forced.
//
// If Nova still reports the service up after `wait_period_after_service_update`, the task
// logs a warning and disables it anyway, as Masakari would have. That worst case takes the
// same time as Masakari (180 s of waiting, then the 60 s RPC timeout) and is never longer.
//
// Measured in virtual time on the simulated cloud. The host has just failed (`service_down_time`
// 60 s, RPC timeout 60 s), each evacuation takes 1.1 s, and the default host flow runs with
// default options (TestTimeToRecoveryAgainstMasakari in this package's tests). The
// "Masakari" column runs Masakari's disable-then-sleep on the same cloud:
//
//	| HA servers on the host | Masakari | kaifuku (waits for down) | kaifuku (`force_down_service`) |
//	| 1 | 242 s | 63 s | 2 s |
//	| 10 | 260 s* | 81 s* | 20 s* |
//
// * With several evacuations in parallel, the virtual clock adds up their concurrent waits, so
// these are upper bounds. On the real Nova, 10 servers took Masakari 247.5 s, and Nova's own
// floor was 4.7 s when forced down and about 20 s when waiting for the heartbeat.
//
// # Other differences
//
//   - Validation. A flow whose task requires a key that nothing provides (for example
//     `evacuate_instances_task` without `prepare_HA_enabled_instances_task` before it) is
//     refused when the configuration is loaded. Masakari fails at run time.
//   - Resumed runs. The compute service is not disabled again if it already is. The
//     reserved host's service is not enabled again if it already is.
//   - Lock failures. A server that cannot be locked counts as a failed evacuation. In
//     Masakari 14.0.2 the error escaped the worker and the server was silently counted as
//     evacuated.
//   - Nova calls. A server's state before its evacuation comes from one list of the failed
//     host at the task's start, kept current by the confirmation rounds after it while they
//     have shown every change since without a gap and one started within 100 ms; otherwise the
//     server is read on its own (Masakari reads each server twice). So an evacuated server costs
//     a lock, an evacuation, an unlock and its share of the rounds: about 3.1 calls.
//   - Order of failed ids. `Failed to evacuate instances` lists failed servers in
//     `instance_list` order (Masakari 14.0.2: the order they failed in).
//   - Evacuations. They run as goroutines bounded by `host_failure_recovery_threads`. They
//     stop when the notification's task times out or the daemon shuts down, and they still
//     unlock their servers.
//
// # Performance
//
// `go test ./builtin -run XXX -bench .` runs each flow through `engine.Runner` on a zero-latency simulated
// cloud, with the default flows and options; the repository's README lists the measured figures.
package builtin
