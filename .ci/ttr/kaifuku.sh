#!/bin/bash
# Build kaifuku from this checkout and start or stop two `kaifuku serve`
# daemons for the Nova bed, both with every default but what the trials need
# (host_failure_recovery_threads is $TTR_KAIFUKU_THREADS, 10 unless set: the
# bed's quota, so every server at once, as the floor evacuates them):
#   heartbeat  127.0.0.1:$TTR_KAIFUKU_PORT     force_down_service = false: waits
#                                              for Nova to report the host down
#   forced     127.0.0.1:$TTR_KAIFUKU_PORT+1   force_down_service = true
#   ./kaifuku.sh start | stop       (stop: exactly the PIDs start recorded)
# State (configuration, SQLite database, log) in $TTR_STATE/kaifuku-{heartbeat,forced}.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
BIN="$TTR_STATE/kaifuku"

alive() { [[ -f "$1/pid" ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

stop() {
    local d
    for d in "$TTR_STATE"/kaifuku-*/; do
        d=${d%/}
        [[ -d $d ]] && stop_pid "kaifuku ${d##*/}" "$d/pid"
    done
    return 0
}

start() {
    mkdir -p "$TTR_STATE"
    (cd "$ROOT" && go build -o "$BIN" ./cmd/kaifuku)
    local mode port=$TTR_KAIFUKU_PORT force d
    for mode in heartbeat forced; do
        d="$TTR_STATE/kaifuku-$mode"
        alive "$d" && { echo "kaifuku $mode already running; ./kaifuku.sh stop first" >&2; exit 1; }
        [[ $mode == forced ]] && force=true || force=false
        rm -rf "$d"; mkdir -p "$d/scripts"
        cat > "$d/kaifuku.conf" <<CONF
[DEFAULT]
state_dir = $d
scripts_dir = $d/scripts
log_file = $d/kaifuku.log
# the trials post one notification for compute1 a few minutes apart
duplicate_notification_detection_interval = 0
# as many evacuations at once as the floor makes (Masakari's default is 3)
host_failure_recovery_threads = ${TTR_KAIFUKU_THREADS:-10}

[api]
listen = 127.0.0.1:$port
auth_strategy = noauth

[compute]
driver = nova

[nova]
# the bed's Keystone stub takes any password
auth_url = $KEYSTONE_URL
username = admin
password = bed-password
project_name = admin
region_name = RegionOne

[host_failure]
force_down_service = $force
CONF
        "$BIN" check --config-file "$d/kaifuku.conf" >/dev/null
        setsid "$BIN" serve --config-file "$d/kaifuku.conf" </dev/null >"$d/stderr" 2>&1 &
        echo $! > "$d/pid"
        for ((i = 0; i < 100; i++)); do
            curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
            alive "$d" || { cat "$d/stderr" >&2; echo "kaifuku $mode died" >&2; stop; exit 1; }
            sleep 0.2
        done
        ((i < 100)) || { echo "kaifuku $mode does not answer on :$port" >&2; stop; exit 1; }
        echo "kaifuku $mode: http://127.0.0.1:$port/v1 (pid $(cat "$d/pid"), log $d/kaifuku.log)"
        port=$((port + 1))
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
