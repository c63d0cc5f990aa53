# Shared settings of the time-to-recovery trials; sourced by run.sh,
# kaifuku.sh and masakari.sh. Every value can be overridden from the
# environment.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export NOVABED="${NOVABED:-$ROOT/.ci/novabed}"
export TTR_OUT="${TTR_OUT:-/var/tmp/ttr}"          # results, and the engines' state
TTR_STATE="$TTR_OUT/state"
NOVABED_RABBIT_PORT="${NOVABED_RABBIT_PORT:-5774}"
KEYSTONE_URL="http://127.0.0.1:${NOVABED_KEYSTONE_PORT:-5000}/v3"   # the bed's stub
TTR_MASAKARI_PORT="${TTR_MASAKARI_PORT:-15868}"
TTR_MASAKARI_WAIT="${TTR_MASAKARI_WAIT:-180}"      # wait_period_after_service_update
# kaifuku serve twice: force_down_service = false on this port, true on the next
TTR_KAIFUKU_PORT="${TTR_KAIFUKU_PORT:-15869}"
PY=/usr/bin/python3                                # Debian's: the OpenStack packages

# stop_pid NAME FILE: TERM the process whose pid FILE holds, if it runs, KILL
# it when it is still there 20 s later, and remove FILE.
stop_pid() {
    local name=$1 file=$2 pid i
    if [[ -f $file ]] && pid=$(cat "$file") && kill -0 "$pid" 2>/dev/null; then
        echo "TERM $name ($pid)"; kill -TERM "$pid"
        for ((i = 0; i < 80; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then echo "KILL $name ($pid)"; kill -KILL "$pid"; fi
    fi
    rm -f "$file"
}
