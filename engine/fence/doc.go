// Package fence powers failed compute hosts off before they are recovered.
//
// # Why fence
//
// An evacuation rebuilds a server on another host from the same disks and
// addresses. If the "failed" host is in fact alive (a network partition, a
// hung nova-compute, a monitor's false alarm), two copies of the server run
// at once and corrupt their data. Masakari's engine does not fence; it relies
// on the deployer's Pacemaker STONITH. With fencing, kaifuku itself makes sure
// the host is off before anything of it is disabled or evacuated: the
// built-in fence_host_task powers it off through its BMC, reads the power
// state back, and only then forces its compute service down in Nova. That is
// also what makes recovery fast: a host confirmed off may be forced down at
// once, and the evacuation need not wait for Nova's heartbeat timeout. If the
// host cannot be fenced (wrong credentials, an unreachable BMC, a power that
// never goes off) the recovery stops, before anything is disabled or
// evacuated, and is retried later: not recovering a host is bad, running its
// servers twice is worse.
//
// Fencing is opt-in. Without fence_host_task in the host flows, a production
// deployment relies on something else (Pacemaker) for this safety.
//
// # Fence agents
//
// Agents drives the standard ClusterLabs fence agents (fence_ipmilan,
// fence_redfish, fence_idrac, fence_ilo*, PDU agents, ...) the way
// Pacemaker's fenced does: the agent runs without arguments, and reads its
// options, one key=value a line, on its standard input, so that no secret
// shows in ps. Exit status 0 of "off" means the agent has seen the power off;
// "status" exits 0 for on and 2 for off; anything else is a failure whose
// reason the agent writes to its standard error. The agents print warnings
// on standard error too, so it is read only to explain a failure. Every run
// is bounded by [fencing] timeout: the agent runs in its own process group,
// and the whole group (the agent and the ipmitool or ssh it started) is
// killed when the time is up.
//
// The options of a host are those of its [fencing:HOST] section, passed
// through as written; at load (kaifuku check, start and SIGHUP) Check runs
// each agent with -o metadata and refuses a key the agent does not know, with
// its file and line and the closest name (the agent itself would only warn
// and go on, so a misspelt ipport would surface at the first failure).
// Secrets (password, a password_file's content, any option whose name speaks
// of a password, key, secret or token) reach the agent through its stdin
// only, and are masked in every error and log line built from its output.
//
// # Other fencers
//
// Fencer is the port the task uses. The simulated cloud implements it with a
// simulated BMC per host, so that kaifuku run can show fencing without
// hardware; For combines the agents of the configured hosts with such a
// fallback.
package fence
