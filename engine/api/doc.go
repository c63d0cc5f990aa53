// Package api is kaifuku's Masakari v1 HTTP API. It serves every endpoint of Masakari's v1 API except extensions:
//
//	| method and path | success |
//	| `GET /`, `GET /v1`, `GET /v1/` | version documents (no token needed) |
//	| `GET/POST /v1/segments`, `GET/PUT/DELETE /v1/segments/{id}` | 200 / 201 / 200 / 200 / 204 |
//	| `GET/POST /v1/segments/{id}/hosts`, `GET/PUT/DELETE /v1/segments/{id}/hosts/{host_id}` | 200 / 201 / 200 / 200 / 204 |
//	| `GET/POST /v1/notifications`, `GET /v1/notifications/{id}` | 200 / 202 / 200; PUT and DELETE answer 405 |
//	| `GET /v1/notifications/{id}/vmoves`, `GET /v1/notifications/{id}/vmoves/{vmove_id}` | 200, from 1.3 |
//
// What is the same as Masakari 14.0.2, checked against its recorded answers:
//
//   - Bodies and field names, field for field (`id` integers, `uuid`s, `deleted`, `deleted_at`), timestamps as
//     `YYYY-MM-DDTHH:MM:SS.ffffff`, `created_at`/`updated_at` in whole seconds, `generated_time` with the
//     microseconds sent, payload keys in the order the monitor sent them.
//   - Microversions 1.0 to 1.3 through `OpenStack-API-Version: instance-ha X.Y` (or `latest`); successes answer
//     `OpenStack-API-Version: masakari X.Y`, errors `instance-ha X.Y`, both with `Vary: OpenStack-API-Version`;
//     other versions get `406 Version X.Y is not supported by the API. Minimum is 1.0 and maximum is 1.3.`
//     `enabled` in segment bodies only at 1.2; `recovery_workflow_details` on `GET /v1/notifications/{id}` from 1.1;
//     from 1.3 notifications carry `failover_segment_uuid` and `message` (why the recovery ended `error`,
//     `failed` or `ignored`; null otherwise), and a host notification's vmoves are listed (filters `status`,
//     `type`, paging and sorting as the other lists) and shown: one per server the evacuation moved, with
//     `dest_host`, `start_time`, `end_time`, `status` (pending, ongoing, succeeded, failed) and the failure's
//     `message`. Vmoves of another type of notification are `400 This notification <id> without vm moves.`
//   - Validation with Masakari's JSON schemas and its messages, e.g. `Invalid input for field/attribute
//     recovery_method. Value: manual. 'manual' is not one of ['auto', 'reserved_host', 'auto_priority',
//     'rh_priority']`, `'process_name' is a required property`, `Malformed request body`; error bodies
//     `{"badRequest": {"code": 400, "message": ...}}` (`itemNotFound`, `conflictingRequest`, `unauthorized`,
//     `forbidden`, `badMethod`, `overLimit`, `masakariFault` for the others).
//   - Lists: filters (`recovery_method`, `service_type`, `enabled`; `type`, `on_maintenance`, `reserved`;
//     `status`, `source_host_uuid`, `type`, `generated-since`), `limit` (at most 1000), `marker` (the integer
//     id), repeatable `sort_key`/`sort_dir`, default `created_at` descending.
//   - Notification create: `400 Host with name X could not be found.`, `409 ... is ignored as the host is
//     already under maintenance.`, and the duplicate check: same type, host and payload (key order aside)
//     generated within `duplicate_notification_detection_interval` is `409 ... is duplicate.`, whatever the
//     earlier one's status.
//   - In-use protection: a segment or host with a `new`, `running` or `error` notification cannot be updated or
//     deleted (409 with Masakari's messages).
//   - `recovery_workflow_details`: per task its atom name (`EvacuateInstancesTask`, ...), `progress` as a
//     number, `progress_details` with string progress values (`"0.0"`, `"1.0"`) and Python-style timestamps
//     (`2026-11-25 21:44:12.923165`), and the taskflow state (`RUNNING`, `SUCCESS`, `REVERTED`, ...). It is read
//     from the stored progress, so it is live while the flow runs and survives restarts.
//
// Besides the API, on the same address: `GET /healthz` (JSON: status, stored and running notifications,
// and `last_reload`: how the last configuration load ended, `ok` or `failed` with its error, when, and when
// the last successful one was; 503 when the database fails, but 200 and `ok` after a refused reload, as the
// engine goes on serving), `GET /metrics` (Prometheus), and for operators with an admin token
// `GET /debug/cloud` (the cloud as the engine sees it: nova-compute services, servers per host and, for the
// simulated cloud, its call counters) and `GET /debug/pprof/profile|heap`. With the simulated cloud
// (`[compute] driver = simulated`), an admin token may also make a host fail and come back, as in the
// tour: `POST /debug/cloud/hosts/{name}/fail` (its nova-compute dies; Nova reports it down after
// `service_down_time`), `/restart` (nova-compute comes back) and `/recover` (the operator's step: restart,
// force the service up and enable it). After a recovery the host stays `on_maintenance` in its segment, as
// with Masakari: `openstack segment host update --on_maintenance False <segment uuid> <host uuid>` takes it
// back.
//
// # Where the API differs from Masakari
//
//   - Authentication: with `auth_strategy = keystone` tokens are validated with Keystone as keystonemiddleware
//     does (its 401 with `WWW-Authenticate`, its 503 when Keystone cannot be reached); with `token` a static token
//     file replaces it. Either way every call goes through Masakari's policy (default `rule:admin_api`, overridable
//     by a policy file), answering Masakari's 403.
//   - The vmoves routes answer 404 below 1.3 (Masakari serves them at any version); a vmove under an unknown
//     notification is a 404 (Masakari answers 500), and a vmove of another notification is not found.
//   - Duplicate check compares payloads as JSON objects (key order does not matter); Masakari compares the
//     decoded dicts too, so the outcome is the same.
//   - A retried `error` notification runs every task again (as Masakari's new flow detail does); its
//     `recovery_workflow_details` then show the retry's progress only.
//   - A `202` is sent only after the notification is committed to the database; API and engine run in one
//     process, with no RabbitMQ between them.
package api
