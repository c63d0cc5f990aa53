#!/bin/bash
# Start or stop the real OpenStack Masakari (Debian's python3-masakari 14.0.2)
# for the Nova bed, on 127.0.0.1, without systemd:
#   ./masakari.sh start   masakari-api on :$TTR_MASAKARI_PORT (noauth2) and
#                         masakari-engine, on the bed's RabbitMQ and Keystone stub,
#                         with Masakari's defaults except
#                         wait_period_after_service_update = $TTR_MASAKARI_WAIT
#   ./masakari.sh stop    stop exactly the PIDs start recorded
# State (config, SQLite files, logs, PIDs) in $TTR_STATE/masakari, wiped by start.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
DIR="$TTR_STATE/masakari"

alive() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

stop() {
    local p
    for p in api engine; do stop_pid "masakari-$p" "$DIR/$p.pid"; done
}

start() {
    "$PY" -c 'import masakari' 2>/dev/null ||
        { echo "python3-masakari missing: apt-get install python3-masakari" >&2; exit 1; }
    for p in api engine; do
        alive "$p" && { echo "masakari-$p already running; ./masakari.sh stop first" >&2; exit 1; }
    done
    rm -rf "$DIR"; mkdir -p "$DIR/lock" "$DIR/log"
    # Masakari's own api-paste.ini (masakari-common) cut to the noauth2 pipeline
    cat > "$DIR/api-paste.ini" <<INI
[composite:masakari_api]
use = call:masakari.api.urlmap:urlmap_factory
/: apiversions
/v1: masakari_api_v1

[composite:masakari_api_v1]
use = call:masakari.api.auth:pipeline_factory_v1
noauth2 = request_id faultwrap sizelimit noauth2 osapi_masakari_app_v1

[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory

[filter:faultwrap]
paste.filter_factory = masakari.api.openstack:FaultWrapper.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory

[filter:noauth2]
paste.filter_factory = masakari.api.auth:NoAuthMiddleware.factory

[app:osapi_masakari_app_v1]
paste.app_factory = masakari.api.openstack.ha:APIRouterV1.factory

[pipeline:apiversions]
pipeline = faultwrap apiversionsapp

[app:apiversionsapp]
paste.app_factory = masakari.api.openstack.ha.versions:Versions.factory
INI
    cat > "$DIR/masakari.conf" <<CONF
[DEFAULT]
auth_strategy = noauth2
transport_url = rabbit://guest:guest@127.0.0.1:$NOVABED_RABBIT_PORT/
masakari_api_listen = 127.0.0.1
masakari_api_listen_port = $TTR_MASAKARI_PORT
masakari_api_workers = 1
host = ttr-masakari
# Nova through the bed's Keystone stub (any password)
os_privileged_user_name = admin
os_privileged_user_password = bed-password
os_privileged_user_tenant = admin
os_privileged_user_auth_url = $KEYSTONE_URL
os_region_name = RegionOne
# Masakari's defaults but this one: wait_period_after_evacuation = 90,
# verify_interval = 1, host_failure_recovery_threads = 3,
# duplicate_notification_detection_interval = 180
wait_period_after_service_update = $TTR_MASAKARI_WAIT
# SQLite under eventlet: one RPC message at a time (the trials send one)
executor_thread_pool_size = 1

[keystone_authtoken]
# masakari.compute.nova loads its keystoneauth plugin from here
auth_type = password

[wsgi]
api_paste_config = $DIR/api-paste.ini

[database]
connection = sqlite:///$DIR/masakari.sqlite

[taskflow]
# the progress details of GET /notifications/{id} (1.1); a file of its own
connection = sqlite:///$DIR/taskflow.sqlite

[oslo_concurrency]
lock_path = $DIR/lock
CONF
    masakari-manage --config-file "$DIR/masakari.conf" --log-file "$DIR/log/manage.log" db sync
    for db in masakari taskflow; do   # WAL: the API's reads do not block the engine
        "$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal")' \
            "$DIR/$db.sqlite"
    done
    cd "$DIR"
    for p in api engine; do
        setsid "$PY" "$HERE/run_masakari.py" "$p" --config-file "$DIR/masakari.conf" \
            --log-file "$DIR/log/masakari-$p.log" </dev/null >"$DIR/log/$p.stderr" 2>&1 &
        echo $! > "$DIR/$p.pid"
    done
    for ((i = 0; i < 120; i++)); do
        curl -sf "http://127.0.0.1:$TTR_MASAKARI_PORT/" >/dev/null &&
            grep -q "Starting ha_engine" "$DIR/log/masakari-engine.log" 2>/dev/null && break
        for p in api engine; do
            alive "$p" || { tail -20 "$DIR/log/$p.stderr" >&2; echo "masakari-$p died" >&2; stop; exit 1; }
        done
        sleep 0.5
    done
    ((i < 120)) || { echo "Masakari did not come up in 60 s" >&2; stop; exit 1; }
    sleep 1   # let the engine's RPC consumer attach
    echo "Masakari: http://127.0.0.1:$TTR_MASAKARI_PORT/v1, api pid $(cat "$DIR/api.pid")," \
         "engine pid $(cat "$DIR/engine.pid"), logs in $DIR/log"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
