#!/usr/bin/env bash
# End-to-end check of the devcloud's namespaced hosts and their Redfish BMCs,
# on a second cloud (never the shared .devcloud/): up --netns --computes 2,
# boot a server on compute1, power compute1 off through its BMC (PowerState
# reads Off, no process left in its namespace, Nova sees it down once forced
# down), power it on (nova-compute reports, service up), cut compute2 from the
# controller only (host<->host still connects, controller<->host does not),
# restore it, tear everything down. A stand-in agent (fake_agent.py, through
# the DEVCLOUD_AGENT_CMD hook) runs in each host and dies and returns with it. Prints the figures as JSON at the end.
#
#   devcloud/tests/netns_smoke.sh          # needs root and iproute2
#   KEEP=1 devcloud/tests/netns_smoke.sh   # leave the cloud up afterwards
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
export DEVCLOUD_DIR=${DEVCLOUD_DIR:-/tmp/dc-netns-smoke}
export DEVCLOUD_PORT_OFFSET=${DEVCLOUD_PORT_OFFSET:-200}
DC="$REPO/bin/devcloud"
K=$((DEVCLOUD_PORT_OFFSET / 100))
PREFIX=${DEVCLOUD_NETNS_PREFIX:-10.$((254 - K))}
CONTROLLER=$PREFIX.0.1
KEYSTONE_PORT=$((5000 + DEVCLOUD_PORT_OFFSET))
NS1=dc$K-compute1 NS2=dc$K-compute2
ADDR1=$PREFIX.1.2 ADDR2=$PREFIX.2.2
PY=${PYTHON:-python3}
# The agent hook, with a stand-in agent listening on each host's address:7777.
export DEVCLOUD_AGENT_CMD="exec $PY $REPO/devcloud/tests/fake_agent.py"

step() { printf '\n== %s\n' "$*"; }
fail() { echo "netns_smoke: FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }

cleanup() {
    if [ -z "${KEEP:-}" ]; then "$DC" down || true; fi
}
trap cleanup EXIT

# connect NS HOST PORT: a TCP connection from namespace NS ("" = the root one).
connect() {
    local ns=$1 host=$2 port=$3
    local cmd=("$PY" -c "import socket; socket.create_connection(('$host', $port), timeout=2).close()")
    if [ -n "$ns" ]; then ip netns exec "$ns" "${cmd[@]}" 2>/dev/null
    else "${cmd[@]}" 2>/dev/null; fi
}

service_state() {   # state of HOST's nova-compute: up or down
    "$DC" openstack compute service list --service nova-compute --host "$1" \
        -f value -c State
}

step "up --netns --computes 2 ($DEVCLOUD_DIR, port offset $DEVCLOUD_PORT_OFFSET)"
t=$(now)
"$DC" up --netns --computes 2
UP_S=$(since "$t")
NETNS_UP_S=$("$PY" -c "import json; print(json.load(open('$DEVCLOUD_DIR/timings.json'))['netns up'])")
"$DC" status || true
"$DC" bmc-config > "$DEVCLOUD_DIR/bmc.toml"
grep -q '^\[bmc.hosts.compute1\]' "$DEVCLOUD_DIR/bmc.toml" || fail "bmc-config lacks compute1"
[ "$(stat -c %a "$DEVCLOUD_DIR/bmc/compute1.password")" = 600 ] || fail "BMC password file is not 0600"
[ "$("$DC" power-status compute1)" = On ] || fail "compute1 does not read On"
connect "" "$ADDR1" 7777 || fail "compute1's agent (DEVCLOUD_AGENT_CMD) does not answer"

step "the BMC refuses a wrong password"
code=$(curl -s -o /dev/null -w '%{http_code}' -u admin:wrong \
    "http://127.0.0.1:$((16000 + DEVCLOUD_PORT_OFFSET + 1))/redfish/v1/Systems" || true)
[ "$code" = 401 ] || fail "wrong password answered $code, not 401"

step "boot a server on compute1"
"$DC" openstack server create --image cirros --flavor m1.tiny --nic none \
    --availability-zone nova:compute1 --wait netns-smoke -f value -c id > /dev/null
host=$("$DC" openstack server show netns-smoke -f value -c OS-EXT-SRV-ATTR:host)
[ "$host" = compute1 ] || fail "server is on $host, not compute1"

step "power compute1 off through its BMC"
[ -n "$(ip netns pids "$NS1")" ] || fail "no process in $NS1 before power-off"
t=$(now)
"$DC" power-off compute1
OFF_S=$(since "$t")
[ "$("$DC" power-status compute1)" = Off ] || fail "compute1 does not read Off"
[ -z "$(ip netns pids "$NS1")" ] || fail "processes left in $NS1: $(ip netns pids "$NS1")"
! connect "" "$ADDR1" 7777 || fail "compute1's agent still answers after power-off"
if "$DC" start-compute compute1 --no-wait 2>/dev/null; then
    fail "start-compute started a compute on a powered-off host"
fi
"$DC" openstack --os-compute-api-version 2.11 compute service set --down \
    compute1 nova-compute
[ "$(service_state compute1)" = down ] || fail "Nova does not see compute1 down"

step "power compute1 on through its BMC"
t=$(now)
"$DC" power-on compute1
ON_S=$(since "$t")
[ "$("$DC" power-status compute1)" = On ] || fail "compute1 does not read On"
connect "" "$ADDR1" 7777 || fail "compute1's agent did not come back with power-on"
"$DC" openstack --os-compute-api-version 2.11 compute service set --up \
    compute1 nova-compute
[ "$(service_state compute1)" = up ] || fail "compute1's service is not up"

step "cut compute2 from the controller only"
connect "$NS1" "$ADDR2" 7777 || fail "compute1 -> compute2 fails before the cut"
connect "" "$ADDR2" 7777 || fail "controller -> compute2 fails before the cut"
connect "$NS2" "$CONTROLLER" "$KEYSTONE_PORT" || fail "compute2 -> controller fails before the cut"
"$DC" cut compute2 --from controller
connect "$NS1" "$ADDR2" 7777 || fail "compute1 -> compute2 fails after a controller-only cut"
connect "$NS2" "$ADDR1" 7777 || fail "compute2 -> compute1 fails after a controller-only cut"
! connect "" "$ADDR2" 7777 || fail "controller -> compute2 still connects"
! connect "$NS2" "$CONTROLLER" "$KEYSTONE_PORT" || fail "compute2 -> controller still connects"
"$DC" status | grep -q 'compute2 .*cut from controller' || fail "status does not show the cut"

step "restore compute2, then cut it from everything"
"$DC" restore compute2
connect "" "$ADDR2" 7777 || fail "controller -> compute2 fails after restore"
connect "$NS2" "$CONTROLLER" "$KEYSTONE_PORT" || fail "compute2 -> controller fails after restore"
"$DC" cut compute2 --from all
! connect "$NS1" "$ADDR2" 7777 || fail "compute1 -> compute2 still connects after cut all"
! connect "" "$ADDR2" 7777 || fail "controller -> compute2 still connects after cut all"
"$DC" restore compute2
connect "$NS1" "$ADDR2" 7777 || fail "compute1 -> compute2 fails after restore"

step "clean up"
"$DC" openstack server delete --wait netns-smoke
if [ -z "${KEEP:-}" ]; then
    "$DC" down
    trap - EXIT
    ip netns list | grep -q "dc$K-" && fail "namespaces left after down"
    ip link show "dc${K}br" >/dev/null 2>&1 && fail "bridge left after down"
fi
printf '{"up_s": %s, "netns_up_s": %s, "power_off_to_off_read_s": %s, "power_on_to_compute_reporting_s": %s}\n' \
    "$UP_S" "$NETNS_UP_S" "$OFF_S" "$ON_S"
echo "netns_smoke: OK"
