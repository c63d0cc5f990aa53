# Shared settings of the Keystone test bed; sourced by setup/start/stop/selftest.
# Every value can be overridden from the environment.
STATE="${KEYSTONEBED_STATE:-/var/tmp/keystonebed}"
# exported: the processes start.sh starts carry it in their environment,
# which is how stop.sh recognises its own PIDs
export KEYSTONEBED_STATE="$STATE"
# what stop.sh takes for one of ours: a recorded PID whose environment has
# KEYSTONEBED_STATE=$STATE or whose command line names $STATE/
BED_OWNER_ENV="KEYSTONEBED_STATE=$STATE" BED_OWNER_CMDLINE="$STATE/"
PIDFILE="$STATE/run/pids"
PORT="${KEYSTONEBED_PORT:-5001}"          # the Nova bed's fake keystone has 5000
WORKERS="${KEYSTONEBED_WORKERS:-2}"       # uwsgi worker processes
# [token] expiration in keystone.conf, seconds (Keystone's default: 3600).
# setup.sh writes it; start.sh rewrites it too, so that
#   KEYSTONEBED_TOKEN_EXPIRATION=10 ./start.sh
# gives tokens that expire after 10 s (for expiry tests).
TOKEN_EXPIRATION="${KEYSTONEBED_TOKEN_EXPIRATION:-3600}"
# URL of the instance-ha (masakari) catalog endpoints (public/internal/admin)
MASAKARI_URL="${KEYSTONEBED_MASAKARI_URL:-http://127.0.0.1:15868/v1}"
REGION="${KEYSTONEBED_REGION:-RegionOne}"
# test-only passwords (README.md lists them with their roles)
ADMIN_PASSWORD="${KEYSTONEBED_ADMIN_PASSWORD:-admin-secret}"
KAIFUKU_PASSWORD="${KEYSTONEBED_KAIFUKU_PASSWORD:-kaifuku-secret}"
DEMO_PASSWORD="${KEYSTONEBED_DEMO_PASSWORD:-demo-secret}"
READER_PASSWORD="${KEYSTONEBED_READER_PASSWORD:-reader-secret}"
MONITOR_PASSWORD="${KEYSTONEBED_MONITOR_PASSWORD:-monitor-secret}"
PY=/usr/bin/python3          # Debian's python: the packages live there
CONF_FILE="$STATE/etc/keystone.conf"
AUTH_URL="http://127.0.0.1:$PORT/v3"

# what the beds do alike (installing, --reset, log, ports, stopping)
# shellcheck source=../lib/bed.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/bed.sh"
