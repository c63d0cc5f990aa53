#!/bin/bash
# One-shot run of the whole bed: setup (pass --reset for fresh DBs), start,
# smoke.sh, and stop.sh on every exit path.
# Ends with one "N passed, M failed" line summing the checks.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
T0=$(date +%s)
"$HERE/setup.sh" "$@" || { echo "setup failed"; exit 1; }
trap '"$HERE/stop.sh"' EXIT
"$HERE/start.sh" || { echo "start failed"; exit 1; }
P=0 F=0
run() {
    local out line
    out=$(mktemp)
    "$@" 2>&1 | tee "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    if [[ -n "$line" ]]; then
        P=$((P + $(awk '{print $1}' <<<"$line"))); F=$((F + $(awk '{print $3}' <<<"$line")))
    else
        F=$((F + 1))
    fi
    rm -f "$out"
}
run "$HERE/smoke.sh"
echo "selftest took $(( $(date +%s) - T0 )) s"
echo "selftest: $P passed, $F failed"
((F == 0))
