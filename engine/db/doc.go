// Package db stores kaifuku's state: Masakari's failover segments, hosts and notifications, and the
// persisted progress of every recovery flow, in SQLite for one daemon or PostgreSQL for several.
//
// # Durability and resume
//
//   - A `202` is sent only after the notification is committed (SQLite in WAL mode with `synchronous=FULL`;
//     concurrent creates share one commit, with the runs' writes: see below).
//   - Workers claim `new` notifications atomically under a lease (owner and `lease_until` columns) and set them
//     `running`; a notification of a host waits while another one of the same host runs (Masakari's per-host
//     lock). The segment-enabled check happens at pickup: a disabled segment makes the notification `ignored`
//     with Masakari's message `Recovery aboart: the segment HA is disabled.`
//   - A task's end and, after each success, the flow store are on disk before the run goes on; a server's
//     lock is recorded on disk before Nova is asked for it. A task's start, its progress entries, vm move
//     updates and the record of a released lock are written behind: the task does not wait for them. A
//     released lock's record is committed with the next commit. The others are held up to 250 ms for newer
//     forms of their row, so that a long task's growing record is written a few times a second, not with
//     every commit: what the API shows of a running task is at most that late. They are always on disk
//     before the task's end and before the notification's final status. A crash may lose the newest of them
//     for the task that was running, which its resume runs again: a resume runs every task whose success is
//     not on disk.
//   - The writes of runs go through one writer, which commits every write queued while its previous commit
//     ran in one transaction: a recovery of many servers makes a few commits, not several per server. A write
//     that fails in such a batch is made again alone, so that it fails alone.
//   - After a crash (SIGKILL, power loss of the process), the next start resumes each notification left
//     `running` from the first task that had not succeeded, with the stored flow store; finished tasks are not
//     run again (the log says `task already succeeded before the restart; not run again`). Masakari leaves such
//     notifications `running` until the expiry task fails them 24 hours later.
//   - A notification is never run by two workers: claims are atomic, the lease is renewed while it runs, and
//     an engine that lost its lease can neither write progress nor store a final status. A final status write
//     that fails is tried again while the lease is renewed, so an errored flow is not left to run again.
//   - An engine that wakes from a pause longer than its lease (a stopped process, a frozen VM) makes no cloud
//     write (evacuation, service update, stop, start, lock, reset) once its lease has expired by its own
//     clock: each write checks the lease first. What remains: a write that passed the check just before the
//     lease ended, and clocks that disagree by more than the renewal margin (a third of `lease_seconds`).
//   - SQLite serves one daemon: kaifuku locks `<database>.lock`, and a second daemon on the same file refuses to
//     start. Because of that lock, a restart takes over the leases of the previous process at once.
//
// # Scaling out
//
// One `kaifuku serve` on SQLite is enough for most clouds. You need PostgreSQL when one engine must not be a
// single point of failure, or when the engine is not enough for the work. Several `kaifuku serve` processes
// then share one PostgreSQL database. Any of them takes API calls and any of them runs notifications.
//
// # PostgreSQL
//
//	[database]
//	connection = postgresql://kaifuku:SECRET@db.example.com:5432/kaifuku?sslmode=verify-full
//	# how long a claim lives without renewal (seconds, default 60)
//	lease_seconds = 60
//
// The connection:
//
//   - `postgresql://` and `postgres://` URLs are accepted, with libpq's parameters (`sslmode`, `sslrootcert`,
//     `connect_timeout`, `application_name`, ...). kaifuku connects with pgx.
//   - Create the database and the role yourself. The role needs to create tables in it at the first start:
//     sudo -u postgres psql -c "create role kaifuku login password 'SECRET'" -c "create database kaifuku owner kaifuku"
//   - kaifuku creates its tables at start. When several engines start together, one of them migrates the
//     schema and the others wait for it (a PostgreSQL advisory lock). The schema is the same as on SQLite:
//     Masakari's segments, hosts and notifications, the flows' persisted progress, plus two small tables,
//     `locks` and `periodic_runs`.
//   - Every engine opens up to 24 connections (16 for writes, 8 for reads). Size `max_connections` for that.
//   - Pool settings of pgxpool, such as `pool_max_conns`, are not connection parameters. PostgreSQL refuses
//     them: `unrecognized configuration parameter "pool_max_conns"`.
//   - The password never appears in kaifuku's logs or errors. It is shown as `xxxxx`:
//     `[database] connection: connect to postgresql://kaifuku:xxxxx@db.example.com:5432/kaifuku: ...`.
//     That error (exit status 2) is also what you get when the server cannot be reached at start.
//   - A SQLite file still serves only one daemon. A second `kaifuku serve` on the same file stops at start
//     with `database ... is in use by another kaifuku (SQLite serves one daemon; use PostgreSQL for several)`.
//     Moving from SQLite to PostgreSQL means starting with an empty database. kaifuku does not copy an
//     existing SQLite file.
//
// # Several engines behind a load balancer
//
// Give every engine the same configuration, the same Lua scripts and the same `[api] token_file`. Only
// `[api] listen` and `[DEFAULT] state_dir` may differ. Put the engines behind any HTTP load balancer and
// check them with `GET /healthz`. It answers 200 `{"status": "ok", ...}` while the engine reaches the
// database, and 503 otherwise. Point Masakari's monitors and the `openstack` client at the load balancer.
// An HAProxy example:
//
//	backend kaifuku
//	    option httpchk GET /healthz
//	    server k1 10.0.0.11:15868 check
//	    server k2 10.0.0.12:15868 check
//	    server k3 10.0.0.13:15868 check
//
// A notification posted to any engine is committed to the database before the 202 goes back. The engine
// that answered wakes its own workers at once. The others find the notification at their next poll, within
// a second. The start-up log names each engine, and that name is the `owner` column of the notifications it
// runs:
// `kaifuku serving the Masakari API on http://10.0.0.11:15868/v1 (auth_strategy token, database postgresql, engine kaifuku-3f0c...)`.
//
// A notification is run with the flows and scripts of the engine that claims it. During a rolling change
// of the configuration, two engines can run notifications with different flows. Reload every engine (SIGHUP)
// before you depend on the change.
//
// # What is guaranteed
//
//   - One engine per notification at a time. An engine claims a notification in a transaction. It locks
//     the notification's row (`SELECT ... FOR UPDATE SKIP LOCKED`), so two engines never take the same row.
//     It then sets the row to `running` with its name and a lease ending `lease_seconds` later, and renews the
//     lease every third of `lease_seconds` while the flow runs. Task progress, the flow store and the final
//     status are written only while the engine still holds the notification, with the row locked during the
//     write. An engine that lost the notification cannot overwrite the work of the engine that took it over.
//   - Notifications of one host run one at a time, across engines, oldest first. A new notification is
//     not claimed while another notification of its host is running. During the claim, the host is locked for
//     the transaction (`pg_try_advisory_xact_lock`), so two engines claiming at the same instant cannot both
//     take a notification of the same host. The periodic retry of an `error` notification follows the same
//     rule.
//   - A reserved host is handed to one failed host only. `evacuate_instances_task` claims the reserved
//     host in the database, not in the process as Masakari's lock does. The notification holds the claim
//     for as long as it runs under its engine's lease. After that, the lock is free again, whether the task
//     released it or the engine died. The claim is also refused once the reserved host is no longer reserved,
//     unless the notification asking is the one that took it. This closes a window that Masakari leaves open
//     even with one engine: two failed hosts read the same list of reserved hosts, the first recovery finishes
//     and releases the lock, and the second would then use the same host. In the reserved-host flow, a refused
//     claim makes the recovery try the next reserved host, exactly as with Masakari's `LockAlreadyAcquired`.
//   - Periodic tasks run once per period across all engines. Each engine keeps its timers, but before a
//     run it must win that period in the `periodic_runs` table, and only one engine can.
//     `process_unfinished_notifications` (one retry of an `error` notification, then `failed`; waking the
//     workers for notifications left `new`) and `check_expired_notifications` therefore run on one engine per
//     interval. Each change they make is also conditional: the retry is a claim that one engine wins, and
//     `failed` is written only from the statuses expected. Two runs that overlapped would still not process a
//     notification twice.
//   - When an engine dies (SIGKILL, power loss, network cut), its notifications stay `running` until
//     their lease expires, at most `lease_seconds` after its last renewal. Another engine then claims each of
//     them, logs `resuming a notification left running`, loads the persisted flow store and task records, and
//     goes on from the first task that had not succeeded. Tasks that had succeeded are not run again. The
//     locks held by the dead engine become free when its leases expire. An engine that stops normally
//     (SIGTERM) gives up its leases as it exits, so the others resume its notifications at once, without
//     waiting for the lease to expire.
//   - An engine that cannot reach the database cannot renew its leases. After one full lease without a
//     renewal, it stops its runs at once and logs
//     `lease expired while the database was unreachable: stopping the run; another engine resumes it`. It
//     writes nothing more for those notifications.
//
// # What is not guaranteed
//
//   - A task running when its engine died runs again. Tasks run at least once, not exactly once. For the
//     built-in tasks this is safe. Nova refuses to evacuate a server that has already left the failed host
//     (`Compute service of ... is still in use`), and the notification then ends in `error`. The periodic
//     retry then runs the host flow again, and that flow finds no server left to move. Write Lua tasks so that
//     running them twice is harmless.
//   - Clocks must agree. A lease is a timestamp written by the engine that holds it and compared against
//     the clock of the engine that wants to take it over. Keep the engines' clocks synchronised (NTP), with
//     the skew well under `lease_seconds`. Otherwise an engine can take over a lease that is still live.
//   - Duplicate detection is per transaction. If two engines accept the same monitor report within the
//     same few milliseconds, both can store it. A monitor that posts to one load balancer does not send the
//     same report twice at once. Masakari's API workers have the same limit.
//   - A paused engine is not fenced. If an engine is frozen for longer than its lease (a stopped VM, a
//     long GC pause) and then wakes up, the Nova call it was making may still go out once, after another
//     engine has resumed the notification. Its database writes are refused from then on. Choose
//     `lease_seconds` well above any pause you expect. Do not make it so long that a dead engine's
//     notifications wait for minutes.
//   - PostgreSQL itself must be highly available (streaming replication with Patroni or similar) if you
//     want no single point of failure. kaifuku reconnects on every query but does not fail over between
//     servers itself.
//
// # Choosing lease_seconds
//
// The lease bounds how long a dead engine's notifications wait before another engine resumes them. It
// also bounds how long an engine tolerates a database it cannot reach. 60 s (the default) suits most
// clouds. 10 to 30 s resumes faster at the cost of more renewals (each running notification is renewed
// every `lease_seconds / 3`). Below the longest database failover you expect, engines give up their runs
// during a failover. They resume them afterwards, and tasks run again as described above.
//
// # Measured
//
// All on one machine: 2 shared cores (AMD EPYC), PostgreSQL 15 as a throw-away cluster on loopback with
// `fsync=off`, and the engines, the simulated cloud and the database on the same two cores. The figures
// show how the engines share the work. They do not show what a database on its own disk can do.
//
//   - Multi-engine test (`go test -run TestMultiEngineOnPostgres ./cmd/kaifuku/`, about 35 s in all).
//     Three engines with 4 workers each, the nova driver against `kaifuku simcloud`, stops and starts taking
//     300 ms, and Masakari's 1 s `verify_interval`:
//   - 300 notifications on 30 hosts, sent to the three engines in turn: all accepted in 0.64 to 2.2 s, and
//     all in their final status after 20.8 to 22.3 s (13.5 to 14.4 notifications/s, ten runs, some of them
//     with the race detector and other tests running beside). The run time comes from the 90 instance
//     recoveries (about 2 s each, one at a time per host) and the 12 host recoveries, not from the database.
//   - One engine killed with SIGKILL while it held 3 or 4 notifications, `lease_seconds = 3`: the other
//     two finished all 42 notifications of that run 8.3 to 12.1 s after the kill.
//   - Claim and final status, 8 workers (`go test -bench ClaimFinish ./engine/db/`), median of 3:
//     SQLite 1,833 claims/s; PostgreSQL 980 claims/s (two daemons' pools on one database).
//   - Accepting notifications over HTTP, 16 clients, one daemon (`go test -bench ServeAcceptNotifications
//     ./cmd/kaifuku/`), median of 3: SQLite 1,643 accepted/s (p50 8.8 ms, p99 26.7 ms); PostgreSQL 734
//     accepted/s (p50 18.7 ms, p99 76 ms). Every notification is committed before its 202 goes back.
//
// # Testing against PostgreSQL
//
// The PostgreSQL tests start their own throw-away cluster. They use `initdb` and `postgres` from Debian's
// `postgresql` package (`/usr/lib/postgresql/*/bin`, or the directory in `KAIFUKU_PG_BIN`). The cluster
// lives in a temporary directory, listens on a free loopback port, uses trust authentication and has fsync
// off. As root, the tests run the server as the `postgres` user. One cluster serves a whole test binary.
// It is stopped and removed when the tests end. If the test process is killed (a `go test -timeout` panic,
// SIGKILL), the server dies with it, but its directory (`$TMPDIR/kaifuku-pgtest-*`) stays behind.
// Without the package the PostgreSQL tests are skipped, unless `CI` is set: then they fail with
// `PostgreSQL is required in CI (.ci/run installs the postgresql package)`. The store tests run every case
// against both SQLite and PostgreSQL.
package db
