// Package simcloud is `kaifuku simcloud`: it serves a simulated cloud over HTTP as a Nova-compatible API, with a minimal Keystone, so
// you can try kaifuku, the `openstack` CLI, novaclient or your own scripts without OpenStack:
//
//	kaifuku simcloud --listen 127.0.0.1:18774 --fixture conf/examples/demo-cloud.json
//	# simcloud: serving conf/examples/demo-cloud.json on http://127.0.0.1:18774 (keystone http://127.0.0.1:18774/v3, …)
//
//	| flag | meaning |
//	| `--fixture FILE` | the cloud: hosts, servers, latencies, faults (the same JSON as `[compute] fixture`) |
//	| `--listen ADDR` | default `127.0.0.1:18774`; port 0 picks a free port (printed) |
//	| `--password P` | the only password Keystone accepts; default: any |
//	| `--token T` | a static token the compute API accepts without a login (repeatable; default `admin:admin`) |
//	| `--log-level debug` | log every request |
//
// It runs on the wall clock with the fixture's latencies (API calls, and the time a stop, start or
// evacuation takes), and simulates Nova's behaviour: a failed host's service is reported down only after
// `service_down_time`; evacuating from a host Nova still sees up is refused; disabling the service of a dead
// host that Nova still believes up answers only after `rpc_timeout`; forcing a host back up is refused while
// evacuations from it are not completed (until its compute restarts).
//
// # Endpoints
//
//   - `GET /` and `GET /v2.1/`: Nova's version documents (microversions 2.1 to 2.93).
//
//   - `/v3`: Keystone v3: `GET /v3`, `POST /v3/auth/tokens` (password or token method; the answer carries
//     `X-Subject-Token` and a catalog whose `compute` endpoint, region `RegionOne`, all interfaces, is
//     `http://ADDR/v2.1`), `GET /v3/auth/tokens`, `GET /v3/auth/catalog`.
//
//   - `/v2.1`: the compute API, with an `X-Auth-Token`:
//     `GET /servers`, `GET /servers/detail` (`host`, `all_tenants`, `name`, `status`, `limit`, `marker`; pages of at most 1000 servers linked by `servers_links`, as Nova's `max_limit`), `GET /servers/{id}`,
//     `POST /servers/{id}/action` (`evacuate`, `os-stop`, `os-start`, `lock`, `unlock`, `os-resetState`),
//     `GET /os-services` (`host`, `binary`), `PUT /os-services/{id}` (≥ 2.53) and the older
//     `PUT /os-services/{enable,disable,disable-log-reason,force-down}`, `GET /os-aggregates`,
//     `GET /os-aggregates/{id}`, `POST /os-aggregates/{id}/action` (`add_host`),
//     `GET /os-migrations` (evacuations), and the one flavor (`GET /flavors`, `/flavors/detail`,
//     `/flavors/1`) the simulated servers have. Microversions come from `OpenStack-API-Version: compute X` or
//     `X-OpenStack-Nova-API-Version`, are echoed back, and shape the answers as Nova does (integer service ids
//     before 2.53, `locked` from 2.9, `host_status` from 2.16, embedded flavor from 2.47, `locked_reason` from
//     2.73, …). Errors use Nova's bodies, e.g. `{"conflictingRequest": {"code": 409, "message": "…"}}`.
//     Creating or deleting servers is not served.
//
//   - `/image`: a read-only image API v2 with the one image the servers were booted from, so that clients
//     that look image names up (the `openstack` CLI) work.
//
//   - `/sim/`: controls for tests and demos (no token):
//
//     | call | does |
//     | `GET /sim/` | lists these endpoints |
//     | `GET /sim/snapshot` | servers, services (with `failed`), aggregates, migrations, faults |
//     | `GET /sim/counters` | Nova calls received per operation, per server id and per host; evacuations accepted per server |
//     | `GET /sim/requests` | HTTP requests per route, refused ones included |
//     | `GET /sim/hosts` | the fixture's hosts |
//     | `POST /sim/hosts/{name}/fail` | kill the host's nova-compute (Nova sees it down after `service_down_time`) |
//     | `POST /sim/hosts/{name}/restart` | restart its nova-compute (completes its evacuations) |
//     | `POST /sim/hosts/{name}/recover` | the operator's step: restart, force up, enable |
//     | `GET /sim/faults`, `POST /sim/faults`, `DELETE /sim/faults` | list, add, clear faults: `{"op": "evacuate", "server": "web-1", "error": "conflict", "count": 1}` (`op`: list_servers, get_server, list_services, update_service, disable_service, enable_service, force_down, force_up, evacuate, reset_state, stop, start, lock, unlock, list_aggregates, add_host_to_aggregate; `error`: conflict, not_found, invalid, forbidden, unavailable, error, never) |
//     | `POST /sim/tokens/revoke` | forget every issued token: clients must log in again |
//
// # With the openstack CLI or novaclient
//
//	export OS_AUTH_URL=http://127.0.0.1:18774/v3 OS_USERNAME=admin OS_PASSWORD=any \
//	       OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
//	openstack server list --all-projects --host compute1
//	openstack --os-compute-api-version 2.53 compute service list
//	openstack --os-compute-api-version 2.53 compute service set --down compute1 nova-compute
//	nova --os-compute-api-version 2.53 evacuate web-1 compute2
//	nova --os-compute-api-version 2.53 list --all-tenants --host compute2
//
// (Debian's `openstack server evacuate` at 2.53 prints `'TupleWithMeta' object has no attribute 'to_dict'`
// after Nova accepted the evacuation, because Nova answers it with an empty body since 2.14; the evacuation
// is done.)
//
// Ask for microversion 2.53 (or higher) for the recovery calls: at the default 2.1 Nova, and simcloud,
// require `onSharedStorage` in an evacuation. openstacksdk's `Connection.compute.evacuate_server` sends no
// microversion at all, so post the action through `conn.compute.post(..., microversion="2.53")`.
//
// # With Masakari
//
// Masakari's engine talks to simcloud as to a real Nova: set `os_privileged_user_auth_url =
// http://127.0.0.1:18774/v3` (and the user, password, project) in its `masakari.conf`. Every call of
// Masakari's `masakari.compute.nova.API` (servers, services, evacuation, aggregates, locks, resets) is
// tested against simcloud, including the errors it translates (`ComputeNotFoundByName`, `Conflict`,
// `InvalidInput`, `NotFound`).
//
// # With kaifuku's nova driver
//
// Point a kaifuku at simcloud exactly as at a real cloud, then make a host fail and send a notification.
// `nova.conf` (its own `state_dir`, so that it does not share the database of a `kaifuku serve` already
// running on the defaults; stop that one first, as both listen on port 15868):
//
//	[DEFAULT]
//	state_dir = nova-state
//	os_privileged_user_auth_url = http://127.0.0.1:18774/v3
//	os_privileged_user_name = admin
//	# start simcloud with --password secret to have it checked
//	os_privileged_user_password = secret
//	os_privileged_user_tenant = admin
//
//	[compute]
//	driver = nova
//
//	[host_failure]
//	force_down_service = true
//
// The `openstack` commands below talk to kaifuku's API, not to simcloud's Keystone: unset the `OS_AUTH_URL`
// ... variables of the previous section (with them, the CLI looks kaifuku up in simcloud's catalog and
// fails with `public endpoint for instance-ha service not found`). A notification is accepted only for a
// host of a segment:
//
//	kaifuku serve --config-file nova.conf &
//	unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME
//	export OS_AUTH_TYPE=admin_token OS_TOKEN="$(head -n1 nova-state/tokens)" OS_ENDPOINT=http://127.0.0.1:15868/v1
//	openstack segment create segment1 auto COMPUTE
//	openstack segment host create compute1 COMPUTE SSH <segment uuid>
//	curl -s -X POST http://127.0.0.1:18774/sim/hosts/compute1/fail
//	openstack notification create COMPUTE_HOST compute1 "$(date -u +%FT%T)" \
//	  '{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}'
//	openstack notification show <notification uuid>
//	curl -s http://127.0.0.1:18774/sim/counters     # every Nova call kaifuku made
//
// With the demo cloud, the notification finishes in about 4.5 s (the fixture's 3 s evacuations included):
// the three servers of compute1 end on compute2 and compute3, and `/sim/counters` shows one evacuation per
// server.
package simcloud
