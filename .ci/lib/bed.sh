# What the test beds (.ci/novabed, .ci/keystonebed, .ci/bmcbed) do alike:
# installing their Debian packages, the --reset of setup.sh, timestamped
# logging, ports, and stop.sh's stopping of exactly the recorded PIDs.
# Sourced at the end of each bed's env.sh, which sets STATE, PIDFILE and
# BED_OWNER_ENV, BED_OWNER_CMDLINE (see bed_ours).

# ---------------------------------------------------------------- setup ---

# bed_reset ARG : for --reset, wipe $STATE (refused while the bed runs)
bed_reset() {
    [[ "${1:-}" == "--reset" ]] || return 0
    if [[ -s "$PIDFILE" ]] && "$HERE/stop.sh" --check-running >/dev/null 2>&1; then
        echo "bed is running; run stop.sh first" >&2; exit 1
    fi
    echo "wiping $STATE"
    rm -rf "$STATE"
}

# bed_install [--no-starts] PKG... : apt-get install those PKGs that are not
# installed yet (apt-get update first only when the lists have never been
# fetched).  --no-starts: the maintainer scripts must not start anything, so
# a policy-rc.d that denies every start is in place meanwhile, removed again
# if we were the ones to create it.  Returns apt-get's status.
bed_install() {
    local no_starts=0 p missing=() made_policy=0 rc=0
    if [[ "${1:-}" == --no-starts ]]; then no_starts=1; shift; fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    echo "installing: ${missing[*]}"
    if ((no_starts)) && [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d || return
        chmod +x /usr/sbin/policy-rc.d || return
        made_policy=1
    fi
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
        apt-get update || rc=$?
    fi
    if ((rc == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
            --no-install-recommends "${missing[@]}" || rc=$?
    fi
    if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    return "$rc"
}

# --------------------------------------------------------------- start ---

# log MESSAGE... : the message after the seconds since this file was sourced
BED_T0=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $BED_T0" | awk '{printf "%.1f", $1-$2}'; }
log() { echo "[$(elapsed)s] $*"; }

# bed_port_taken PORT : something accepts TCP connections on 127.0.0.1:PORT
bed_port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- stop ---

# bed_stop_begin ARG [WANTED] : what every stop.sh does first.  Without a PID
# file there is nothing to stop: exit 1 for --check-running, else exit 0
# saying so.  Then read alive (bed_read_alive WANTED); for --check-running,
# list the alive entries and exit 0 if there are any, else exit 1.
bed_stop_begin() {
    if [[ ! -s "$PIDFILE" ]]; then
        [[ "${1:-}" == "--check-running" ]] && exit 1
        echo "no pid file $PIDFILE: nothing to stop"; exit 0
    fi
    bed_read_alive "${@:2}"
    [[ "${1:-}" == "--check-running" ]] || return 0
    ((${#alive[@]})) && { printf '%s\n' "${alive[@]}"; exit 0; }
    exit 1
}

# bed_ours PID : PID is alive and ours: its environment carries $BED_OWNER_ENV
# (NAME=VALUE, which the bed's env.sh exports to everything it starts) or its
# command line names $BED_OWNER_CMDLINE; a PID the system has since reused
# for something else is not ours
bed_ours() {
    local pid=$1
    [[ -r /proc/$pid/environ ]] || return 1
    tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "$BED_OWNER_ENV" && return 0
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$BED_OWNER_CMDLINE"
}

# bed_read_alive [WANTED] : alive=("NAME:PID"...), the entries of $PIDFILE
# whose PID is ours; WANTED NAME, a function, picks the entries to look at
bed_read_alive() {
    local name pid
    alive=()
    while read -r name pid; do
        [[ -n "${pid:-}" ]] || continue
        if (($#)) && ! "$1" "$name"; then continue; fi
        if bed_ours "$pid"; then alive+=("$name:$pid"); fi
    done < "$PIDFILE"
}

# bed_wait_gone SECONDS PID... : 0 once none of the PIDs is alive
bed_wait_gone() {
    local t n=$(( $1 * 5 )) p left; shift
    for ((t = 0; t < n; t++)); do
        left=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && left=1; done
        ((left)) || return 0
        sleep 0.2
    done
    return 1
}

# bed_kill_leftovers : SIGKILL every alive entry still alive and ours
bed_kill_leftovers() {
    local e n p
    for e in "${alive[@]}"; do
        n=${e%%:*}; p=${e##*:}
        if kill -0 "$p" 2>/dev/null && bed_ours "$p"; then echo "KILL $n ($p)"; kill -KILL "$p" 2>/dev/null; fi
    done
}

# bed_survivors : 1 (naming them) if an alive entry is still alive and ours
bed_survivors() {
    local e rc=0
    for e in "${alive[@]}"; do
        kill -0 "${e##*:}" 2>/dev/null && bed_ours "${e##*:}" && { echo "still alive: $e" >&2; rc=1; }
    done
    return "$rc"
}

# bed_stop_finish : the end of stopping the whole bed: SIGKILL the leftovers,
# wait up to 5 s for every alive entry, name the survivors, retire the PID
# file and exit 1 if any survived, else 0
bed_stop_finish() {
    local e pids=() rc=0
    bed_kill_leftovers
    for e in "${alive[@]}"; do pids+=("${e##*:}"); done
    ((${#pids[@]})) && bed_wait_gone 5 "${pids[@]}"
    bed_survivors || rc=1
    mv "$PIDFILE" "$PIDFILE.stopped"
    echo "stopped"
    exit "$rc"
}
