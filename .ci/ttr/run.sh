#!/bin/bash
# Time to recovery of a failed compute host on the running Nova bed, one trial
# per N (the number of servers on the failed host; the bed's quota allows 10):
#   ./run.sh floor    [Ns]   Nova's floor, forced down and heartbeat
#   ./run.sh kaifuku  [Ns]   kaifuku serve built from this checkout, both modes
#   ./run.sh masakari [Ns]   the real Masakari (Debian's), heartbeat only
#   ./run.sh compare  [Ns]   for each N, floor and kaifuku interleaved: forced
#                            down, then heartbeat
#   ./run.sh all      [Ns]   Masakari, then compare
# Ns defaults to "1 5 10". Then: /usr/bin/python3 summarize.py
# Floor and kaifuku trials wait (TTR_LOAD_WAIT = 600 s at most) for the
# 1-minute load to fall under TTR_MAX_LOAD (1.5).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
what=${1:-} ns=${2:-"1 5 10"}
MASAKARI="http://127.0.0.1:$TTR_MASAKARI_PORT/v1"
KAIFUKU_HB="http://127.0.0.1:$TTR_KAIFUKU_PORT/v1"
KAIFUKU_FD="http://127.0.0.1:$((TTR_KAIFUKU_PORT + 1))/v1"
export TTR_MAX_LOAD="${TTR_MAX_LOAD:-1.5}"

bash "$NOVABED/stop.sh" --check-running >/dev/null 2>&1 ||
    { echo "the Nova bed is not running: bash $NOVABED/setup.sh && bash $NOVABED/start.sh" >&2; exit 1; }
mkdir -p "$TTR_OUT"
started=()
cleanup() {
    local rc=$? s
    trap - EXIT
    for s in "${started[@]}"; do [[ -z $s ]] || bash "$HERE/$s.sh" stop || rc=1; done
    "$PY" "$HERE/ttr.py" cleanup || rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# keep LABEL FILE: a copy of the engine's log beside the trial
keep() { cp "$2" "$TTR_OUT/runs/$1/" 2>/dev/null || true; }

masakari() {
    bash "$HERE/masakari.sh" start; started+=(masakari)
    "$PY" "$HERE/ttr.py" setup "$MASAKARI"
    for n in $ns; do
        TTR_MAX_LOAD=0 "$PY" "$HERE/ttr.py" engine "$MASAKARI" "$n" "masakari-w$TTR_MASAKARI_WAIT-n$n"
        keep "masakari-w$TTR_MASAKARI_WAIT-n$n" "$TTR_STATE/masakari/log/masakari-engine.log"
    done
    bash "$HERE/masakari.sh" stop; started=("${started[@]/masakari}")
}
kaifuku_up() {
    bash "$HERE/kaifuku.sh" start; started+=(kaifuku)
    "$PY" "$HERE/ttr.py" setup "$KAIFUKU_HB"
    "$PY" "$HERE/ttr.py" setup "$KAIFUKU_FD"
}
kaifuku() {  # MODE N
    local url=$KAIFUKU_HB
    [[ $1 == forced ]] && url=$KAIFUKU_FD
    TTR_DUP_INTERVAL=0 "$PY" "$HERE/ttr.py" engine "$url" "$2" "kaifuku-$1-n$2"
    keep "kaifuku-$1-n$2" "$TTR_STATE/kaifuku-$1/kaifuku.log"
}
floor() { "$PY" "$HERE/ttr.py" "floor-$1" "$2" "floor-$1-n$2"; }

case "$what" in
    floor) for n in $ns; do floor forced "$n"; floor heartbeat "$n"; done ;;
    kaifuku) kaifuku_up; for n in $ns; do kaifuku forced "$n"; kaifuku heartbeat "$n"; done ;;
    masakari) masakari ;;
    compare | all)
        [[ $what == all ]] && masakari
        kaifuku_up
        for n in $ns; do
            floor forced "$n"; kaifuku forced "$n"
            floor heartbeat "$n"; kaifuku heartbeat "$n"
        done ;;
    *) echo "usage: $0 floor|kaifuku|masakari|compare|all [\"1 5 10\"]" >&2; exit 2 ;;
esac
