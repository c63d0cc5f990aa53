# Shared settings of the Nova test bed; sourced by setup/start/stop/smoke.
# Every value can be overridden from the environment.
STATE="${NOVABED_STATE:-/var/tmp/novabed}"
# exported: every process start.sh/compute.sh starts carries it in its
# environment, which is how stop.sh recognises its own PIDs
export NOVABED_STATE="$STATE"
# what stop.sh takes for one of ours: a recorded PID whose environment has
# NOVABED_STATE=$STATE or whose command line names $STATE
BED_OWNER_ENV="NOVABED_STATE=$STATE" BED_OWNER_CMDLINE="$STATE"
PIDFILE="$STATE/run/pids"
NOVA_PORT="${NOVABED_NOVA_PORT:-8774}"
PLACEMENT_PORT="${NOVABED_PLACEMENT_PORT:-8778}"
GLANCE_PORT="${NOVABED_GLANCE_PORT:-9292}"
NEUTRON_PORT="${NOVABED_NEUTRON_PORT:-9696}"
KEYSTONE_PORT="${NOVABED_KEYSTONE_PORT:-5000}"   # fake-keystone (token = "user:project")
# extra catalog entries served by fake-keystone, "type|name|url,..." e.g.
# NOVABED_EXTRA_ENDPOINTS="instance-ha|masakari|http://127.0.0.1:15868/v1"
EXTRA_ENDPOINTS="${NOVABED_EXTRA_ENDPOINTS:-}"
# not RabbitMQ's defaults (5672/25672/4369) nor 5682/25682/4379 (common for
# a second broker), so that a broker the machine already runs is left alone
RABBIT_PORT="${NOVABED_RABBIT_PORT:-5774}"
RABBIT_DIST_PORT="${NOVABED_RABBIT_DIST_PORT:-25774}"
EPMD_PORT="${NOVABED_EPMD_PORT:-4374}"
RABBIT_NODENAME="${NOVABED_RABBIT_NODENAME:-novabed@localhost}"
SERVICE_DOWN_TIME="${NOVABED_SERVICE_DOWN_TIME:-20}"   # nova.conf; setup.sh
PY=/usr/bin/python3          # Debian's python: the packages live there
NOVA_URL="http://127.0.0.1:$NOVA_PORT/v2.1"
TOKEN="admin:admin"          # noauth2: "user:project"; user admin = admin
IMAGE_ID="155d900f-4e14-4e4c-a73d-069cbf4541e6"
FLAVOR_ID="1"

# what the beds do alike (installing, --reset, log, ports, stopping)
# shellcheck source=../lib/bed.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/bed.sh"
