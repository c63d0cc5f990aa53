// Package nova is the compute backend for a real OpenStack Nova. With `[compute] driver = nova`, kaifuku drives Nova's compute API the way Masakari does: microversion
// 2.53 (service ids are UUIDs, a service is disabled, enabled or forced down with
// `PUT /os-services/{id}`), as an administrator, with the calls of Masakari's `masakari/compute/nova.py`:
//
//	| what the tasks need | Nova call |
//	| servers of the failed host | `GET /servers/detail?all_tenants=True&host=H` |
//	| one server | `GET /servers/{id}` |
//	| the host's compute service | `GET /os-services?host=H&binary=nova-compute` |
//	| disable / enable / force down / force up | `PUT /os-services/{id}` with `status`, `disabled_reason`, `forced_down` |
//	| evacuate | `POST /servers/{id}/action {"evacuate": {"host": T}}` (no `host`: the scheduler chooses) |
//	| reset state, stop, start, lock, unlock | `os-resetState`, `os-stop`, `os-start`, `lock`, `unlock` actions |
//	| aggregates | `GET /os-aggregates`, `POST /os-aggregates/{id}/action {"add_host": …}` |
//
// # Keystone login
//
//	[compute]
//	driver = nova
//
//	[nova]
//	auth_url = https://keystone.example.com:5000/v3
//	username = masakari
//	password = …
//	project_name = service
//	# both default to Default
//	user_domain_name = Default
//	project_domain_name = Default
//	# the catalog's region (empty: the first compute endpoint) and which of its
//	# URLs to use: public (default), internal or admin
//	region_name = RegionOne
//	interface = internal
//	# seconds per HTTP request (default 60)
//	timeout = 60
//	cafile = /etc/ssl/certs/openstack-ca.pem
//	# true skips TLS verification (tests only)
//	insecure = false
//
// kaifuku logs in with a Keystone v3 password (project-scoped), reads the compute endpoint from the token's
// catalog and logs in again by itself when Nova answers 401 because the token expired. Use an `auth_url`
// ending in `/v3`. `endpoint = …` in `[nova]` overrides the catalog's compute URL.
//
// # Masakari's options work as they are
//
// A `masakari.conf` needs no change: when `[nova]` does not set an option, kaifuku takes Masakari's
// `[DEFAULT]` one.
//
//	| Masakari `[DEFAULT]` | kaifuku `[nova]` |
//	| `os_privileged_user_auth_url` | `auth_url` |
//	| `os_privileged_user_name` | `username` |
//	| `os_privileged_user_password` | `password` |
//	| `os_privileged_user_tenant` | `project_name` |
//	| `os_user_domain_name` / `os_project_domain_name` | `user_domain_name` / `project_domain_name` |
//	| `os_region_name` | `region_name` |
//	| `nova_ca_certificates_file` | `cafile` |
//	| `nova_api_insecure` | `insecure` |
//
// # Static token
//
// Without Keystone (a Nova with `auth_strategy = noauth2`, a test bed, or a token you manage yourself):
//
//	[nova]
//	# sent as X-Auth-Token
//	token = admin:admin
//	endpoint = http://nova.example.com:8774/v2.1
//
// A static token cannot be renewed: when Nova answers 401 the call fails as *forbidden*.
//
// # TLS
//
// `https://` URLs are verified against the system's CAs, or against `cafile` (a PEM bundle) when set.
// `insecure = true` turns verification off. TLS 1.2 is the minimum.
//
// # Errors, retries and timeouts
//
// Nova's answers become the engine's error kinds, with Nova's own message kept, for example
// `nova evacuate server 6f1e…: 400 Compute service of compute1 is still in use.: invalid input`:
//
//	| Nova answers | kind (what tasks and Lua scripts see) |
//	| 400 | invalid input |
//	| 401 (after a fresh login), 403 | forbidden |
//	| 404 | not found |
//	| 409 | conflict |
//	| 5xx, timeouts, connection errors | compute unavailable (retryable) |
//
// Reads (`GET`s), the Keystone login and the calls that set an absolute value (service updates, reset
// state) are tried up to 4 times in all on 5xx, 429, timeouts and connection errors (not on TLS certificate
// errors), waiting 0.5 s, 1 s, 2 s between tries (at most
// 8 s). Actions that are not idempotent (evacuate, stop, start, lock, unlock, add host to aggregate) are
// retried only when the connection could not be opened, i.e. the request never reached Nova: kaifuku never
// evacuates a server twice because an answer was lost. Every retry is logged at warning level with the call
// and the error. `timeout` bounds each HTTP request, login included.
//
// Passwords and tokens never appear in logs or error messages.
//
// Errors at start-up (`kaifuku serve` refuses to start with them):
//
//   - `[compute] driver nova: nova keystone login at https://…/v3 as masakari: 401 The request you have made
//     requires authentication.: forbidden`: wrong user, password, project or domain.
//   - `… compute endpoint in the keystone catalog (region "RegionTwo", interface "internal"): No suitable
//     endpoint could be found in the service catalog.`: fix `region_name` / `interface`, or set `endpoint`.
//   - `[nova] endpoint: required with token (…)`, `[nova] cafile: …: no PEM certificate found`: as they say.
//   - `… : dial tcp …: connection refused: compute unavailable` after the retries: Keystone or Nova is not
//     reachable from kaifuku's host.
//
// # Where it differs from Masakari
//
//   - Masakari uses python-novaclient; kaifuku uses gophercloud, but sends the same requests at the same
//     microversion. Evacuations carry only `host` (Nova ≥ 2.14 refuses the `onSharedStorage` field that
//     some clients still send).
//   - Masakari does not retry Nova calls; kaifuku retries reads and unsent requests (above).
//   - `disable_compute_service_task` waits until Nova reports the failed host's service down before disabling
//     it, or forces it down first with `[host_failure] force_down_service = true`. Masakari disables at once
//     and sleeps `wait_period_after_service_update` (180 s). Disabling a service Nova still believes up makes
//     nova-api wait for the dead host's RPC timeout (60 s) before it answers.
//
// Time to recovery of one HA server when its host fails, on a real Nova (Debian's Nova Zed with two fake
// hypervisors on loopback, `service_down_time = 20 s`; 2-core machine). kaifuku is timed from the host's
// death to the server ACTIVE on the other host; Masakari from the notification to the same point.
//
//	| engine | setting | time to recovery |
//	| Masakari 14.0.2 | defaults (`wait_period_after_service_update = 180`) | 242.0 s |
//	| Masakari 14.0.2 | `wait_period_after_service_update = 30` | 91.9 s |
//	| kaifuku | `force_down_service = false` (waits for Nova's heartbeat to lapse) | 15.7 s (median of 5 runs: 15.4–29.4 s) |
//	| kaifuku | `force_down_service = true` | 3.2 s (median of 5 runs: 1.4–3.9 s) |
//
// Without `force_down_service` most of kaifuku's time is Nova's `service_down_time` (here 20 s, Nova's
// default 60 s): until it lapses Nova refuses to evacuate. Forcing the service down skips that wait; only do
// it when your monitor has fenced the host (its VMs cannot still be running).
package nova
