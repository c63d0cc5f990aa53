#!/bin/bash
# Start every process of the Nova test bed by hand, bound to 127.0.0.1, record
# their PIDs in $STATE/run/pids ("name pid" lines), and wait until the compute
# API answers and both fake computes (compute1, compute2) are up and mapped.
# Then make sure the bootstrap objects exist: image $IMAGE_ID in glance and
# flavor $FLAVOR_ID (m1.tiny) in nova.  Run setup.sh first.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
START_UTC=$(date -u +%Y-%m-%dT%H:%M:%S)

[[ -f "$STATE/etc/nova.conf" ]] || { echo "run setup.sh first" >&2; exit 1; }
if [[ -s "$PIDFILE" ]]; then
    while read -r name pid; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "already running ($name pid $pid); run stop.sh first" >&2; exit 1
        fi
    done < "$PIDFILE"
fi
for p in "$NOVA_PORT" "$PLACEMENT_PORT" "$GLANCE_PORT" "$NEUTRON_PORT" "$KEYSTONE_PORT" \
         "$RABBIT_PORT" "$RABBIT_DIST_PORT" "$EPMD_PORT"; do
    if bed_port_taken "$p"; then
        echo "port $p on 127.0.0.1 is taken by something else" >&2; exit 1
    fi
done
mkdir -p "$STATE/run" "$STATE/log"
: > "$PIDFILE"

# start NAME LOGFILE CMD... : run CMD in its own session, detached from us
start() {
    local name=$1 logf=$2; shift 2
    setsid "$@" </dev/null >>"$logf" 2>&1 &
    local pid=$!
    echo "$name $pid" >> "$PIDFILE"
    log "started $name pid $pid"
}

wait_port() {  # PORT SECONDS NAME
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        if bed_port_taken "$1"; then log "$3 answers on :$1"; return 0; fi
        sleep 0.2
    done
    echo "timeout waiting for $3 on port $1" >&2; return 1
}

# ------------------------------------------------------- epmd + rabbitmq ---
export HOME="$STATE/rabbit"            # .erlang.cookie lives there
export ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_NODENAME="$RABBIT_NODENAME" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
       RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" \
       RABBITMQ_CONFIG_FILE="$STATE/etc/rabbitmq.conf" \
       RABBITMQ_ADVANCED_CONFIG_FILE="$STATE/etc/rabbitmq-advanced.config" \
       RABBITMQ_CONF_ENV_FILE="$STATE/etc/rabbitmq-env.conf" \
       RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/etc/rabbitmq-enabled-plugins" \
       RABBITMQ_MNESIA_BASE="$STATE/rabbit/mnesia" RABBITMQ_LOG_BASE="$STATE/rabbit/log" \
       RABBITMQ_PID_FILE="$STATE/run/rabbit.pid" \
       RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
: > "$STATE/etc/rabbitmq-env.conf"
start epmd "$STATE/log/epmd.log" epmd -port "$EPMD_PORT" -address 127.0.0.1
wait_port "$EPMD_PORT" 10 epmd
RABBIT_SERVER=$(ls /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server | tail -1)
start rabbitmq "$STATE/log/rabbitmq.log" "$RABBIT_SERVER"

# ------------------------------------------- placement, glance, neutron ---
# the packaged single-threaded wsgiref server: one request at a time, so the
# placement SQLite file never sees two transactions at once
start placement "$STATE/log/placement-wsgi.log" \
    env OS_PLACEMENT_CONFIG_DIR="$STATE/etc/placement" \
    "$PY" /usr/bin/placement-api --host 127.0.0.1 --port "$PLACEMENT_PORT"
start glance-api "$STATE/log/glance-api.stderr" \
    "$PY" "$HERE/bin/glance-api" --config-file "$STATE/etc/glance-api.conf"
start fake-neutron "$STATE/log/fake-neutron.log" \
    "$PY" "$HERE/bin/fake-neutron" 127.0.0.1 "$NEUTRON_PORT"
CATALOG="compute|nova|http://127.0.0.1:$NOVA_PORT/v2.1"
CATALOG+=",placement|placement|http://127.0.0.1:$PLACEMENT_PORT"
CATALOG+=",image|glance|http://127.0.0.1:$GLANCE_PORT"
CATALOG+=",network|neutron|http://127.0.0.1:$NEUTRON_PORT"
[[ -n "$EXTRA_ENDPOINTS" ]] && CATALOG+=",$EXTRA_ENDPOINTS"
start fake-keystone "$STATE/log/fake-keystone.log" \
    "$PY" "$HERE/bin/fake-keystone" 127.0.0.1 "$KEYSTONE_PORT" "$CATALOG"

wait_port "$RABBIT_PORT" 90 rabbitmq

# ------------------------------------------------------------------ nova ---
NC=(--config-file "$STATE/etc/nova.conf")
start nova-conductor "$STATE/log/nova-conductor.stderr" \
    "$PY" "$HERE/bin/nova-conductor" "${NC[@]}" --log-file "$STATE/log/nova-conductor.log"
start nova-scheduler "$STATE/log/nova-scheduler.stderr" \
    "$PY" "$HERE/bin/nova-scheduler" "${NC[@]}" --log-file "$STATE/log/nova-scheduler.log"
start nova-api "$STATE/log/nova-api.stderr" \
    "$PY" "$HERE/bin/nova-api" "${NC[@]}" --log-file "$STATE/log/nova-api.log"
wait_port "$PLACEMENT_PORT" 60 placement
for c in compute1 compute2; do
    start "nova-compute-$c" "$STATE/log/nova-$c.stderr" \
        "$PY" "$HERE/bin/nova-compute" "${NC[@]}" --config-file "$STATE/etc/$c.conf" \
        --log-file "$STATE/log/nova-$c.log"
done
wait_port "$GLANCE_PORT" 60 glance-api
wait_port "$NEUTRON_PORT" 30 fake-neutron
wait_port "$KEYSTONE_PORT" 30 fake-keystone
wait_port "$NOVA_PORT" 120 nova-api

H=(-s -H "X-Auth-Token: $TOKEN" -H "OpenStack-API-Version: compute 2.93")
for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "${H[@]}" "$NOVA_URL/" || true)
    [[ "$code" == 200 ]] && break
    sleep 0.5
done
[[ "$code" == 200 ]] || { echo "nova-api does not answer (last code $code)" >&2; exit 1; }
log "nova-api answers GET /v2.1/ with 200"

# both computes have reported in since this start (a compute that an earlier
# run left forced down is reported "down" but still heartbeats)
for ((i = 0; i < 240; i++)); do
    up=$(curl "${H[@]}" "$NOVA_URL/os-services?binary=nova-compute" |
         jq -r --arg t "$START_UTC" '[.services[] | select(.updated_at > $t)] | length' 2>/dev/null || echo 0)
    [[ "$up" == 2 ]] && break
    sleep 0.5
done
[[ "$up" == 2 ]] || { echo "computes did not report in (got $up of 2); see $STATE/log, then stop.sh" >&2; exit 1; }
log "os-services: both nova-compute reported in: $(curl "${H[@]}" "$NOVA_URL/os-services?binary=nova-compute" |
    jq -r '[.services[] | "\(.host)=\(.state)/\(.status)\(if .forced_down then "/forced_down" else "" end)"] | join(" ")')"

# map the compute hosts into cell1 (the scheduler also does it every 30 s);
# the compute node records appear after the computes' first resource update
for ((i = 0; i < 120; i++)); do
    n=$(sqlite3 "$STATE/db/nova_cell1.sqlite" \
        "select count(*) from compute_nodes where deleted=0" 2>/dev/null || echo 0)
    [[ "$n" -ge 2 ]] && break
    sleep 0.5
done
if [[ $(sqlite3 "$STATE/db/nova_api.sqlite" "select count(*) from host_mappings" 2>/dev/null) -ge 2 ]]; then
    log "hosts already mapped to cell1"
else
    "$PY" "$HERE/bin/nova-manage" "${NC[@]}" --log-file "$STATE/log/nova-manage.log" \
        cell_v2 discover_hosts --verbose 2>/dev/null | sed 's/^/  /'
    log "hosts discovered"
fi

# ------------------------------------------------------------- bootstrap ---
G="http://127.0.0.1:$GLANCE_PORT/v2"
if [[ $(curl -s -o /dev/null -w '%{http_code}' "$G/images/$IMAGE_ID") != 200 ]]; then
    curl -sf -X POST "$G/images" -H 'Content-Type: application/json' -d '{
        "id": "'"$IMAGE_ID"'", "name": "fake-image", "disk_format": "raw",
        "container_format": "bare", "visibility": "public",
        "min_disk": 0, "min_ram": 0}' >/dev/null
    head -c 1048576 /dev/zero | curl -sf -X PUT "$G/images/$IMAGE_ID/file" \
        -H 'Content-Type: application/octet-stream' --data-binary @- >/dev/null
fi
log "glance image $IMAGE_ID: $(curl -s "$G/images/$IMAGE_ID" | jq -r .status)"
if [[ $(curl -s -o /dev/null -w '%{http_code}' "${H[@]}" "$NOVA_URL/flavors/$FLAVOR_ID") != 200 ]]; then
    curl -sf "${H[@]}" -X POST "$NOVA_URL/flavors" -H 'Content-Type: application/json' \
        -d '{"flavor": {"name": "m1.tiny", "id": "'"$FLAVOR_ID"'", "ram": 512,
             "vcpus": 1, "disk": 1}}' >/dev/null
fi
log "flavor $FLAVOR_ID: $(curl -s "${H[@]}" "$NOVA_URL/flavors/$FLAVOR_ID" | jq -r .flavor.name)"
# record the children too, as "NAME+child PID": the Erlang VM under the
# rabbitmq-server shell wrapper (and its erl_child_setup), nova-api's forked
# worker.  stop.sh signals only the parents and then makes sure that no
# recorded child outlives them.
record_children() {  # NAME PID
    local c
    for c in $(pgrep -P "$2" || true); do
        echo "$1+child $c" >> "$PIDFILE"
        record_children "$1+child" "$c"
    done
}
while read -r name pid; do
    [[ "$name" == *+child ]] || record_children "$name" "$pid"
done < <(cat "$PIDFILE")
log "bed is up: $NOVA_URL (X-Auth-Token: $TOKEN); pids in $PIDFILE"
