#!/usr/bin/env bash
# The integration suite (test/integration) on the cgroup v2 + systemd VM node:
# built here (go test -c), run inside the VM (hack/vm/run.sh) against
# containerd $CONTAINERD_VERSION (default 2.4.2, hack/runtimes/containerd.sh),
# once per cgroup driver in $VM_DRIVERS (default "systemd cgroupfs": the
# kubelet's default driver and pod slices first, then the cgroupfs layout on
# the same v2 node). Logs go to $VM_OUT (default build/vm/integration).
#
# The systemd run is the whole suite. The cgroupfs run is the tests whose
# expectations depend on the cgroup layout ($VM_CGROUPFS_RUN, a -test.run
# pattern; "." runs all): the numbers against the v2 files, the limits and
# counters, teardown after a crash. The others (a killed owner, a runtime
# killed and restarted) exercise the runtime's process lifecycle, which the
# driver does not change, and cost minutes each under emulation.
#
# The suite is built without the race detector: the host legs run the same
# code with it, and under software emulation it multiplies the suite's CPU.
#   usage: hack/vm/integration.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${CONTAINERD_VERSION:-2.4.2}
drivers=${VM_DRIVERS:-systemd cgroupfs}
cgroupfs_run=${VM_CGROUPFS_RUN:-^(TestContainerd|TestLimitsAndCgroupCounters|TestTeardownAfterCrash)\$}
out=${VM_OUT:-build/vm/integration}

ctrd=$(hack/runtimes/containerd.sh "$version")
payload=$(mktemp -d /var/tmp/statssummary-payload.XXXXXX)
trap 'rm -rf "$payload"' EXIT
echo "vm-integration: building the suite and hack/devruntime"
go -C test test -c -o "$payload/integration.test" ./integration
go build -o "$payload/devruntime" ./hack/devruntime
mkdir -p "$payload/containerd"
cp "$ctrd"/containerd "$ctrd"/containerd-shim-runc-v2 "$ctrd"/ctr "$payload/containerd/"

cat >"$payload/run.sh" <<RUN
set -u
cd /payload
echo "== node: \$(uname -r), \$(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup, init \$(cat /proc/1/comm)"
# The node's NIC: eth0 with the default route, its peer in a namespace of
# its own, and a little traffic so that its counters are not zero. No
# address outside the VM is ever used.
ip netns add node-peer
ip link add eth0 type veth peer name peer0 netns node-peer
ip addr add 10.254.0.1/24 dev eth0
ip link set eth0 up
ip -n node-peer addr add 10.254.0.2/24 dev peer0
ip -n node-peer link set peer0 up
ip -n node-peer link set lo up
ip route add default via 10.254.0.2 dev eth0
ip netns exec node-peer busybox ping -c 3 -W 2 10.254.0.1 >/dev/null || echo "warning: no traffic on the node NIC"
# Swap on, as on nodes with the kubelet's swap support: the suite's swap
# check needs it and is told so (it fails when swap is asked for and absent).
dd if=/dev/zero of=/swapfile bs=1M count=512 status=none && chmod 600 /swapfile && mkswap -q /swapfile && swapon /swapfile
export STATSSUMMARY_REQUIRE_SWAP=1
# Under software emulation a scrape of the suite's pods takes seconds: a
# longer interval (which also bounds each CRI call and scrape).
export STATSSUMMARY_IT_INTERVAL=${STATSSUMMARY_IT_INTERVAL:-20s}
rc=0
for driver in $drivers; do
  echo "== integration: cgroup v2, \$driver driver, containerd $version"
  began=\$(date +%s)
  run='${VM_RUN:-.}'
  if [ "\$driver" = cgroupfs ]; then run='$cgroupfs_run'; fi
  echo "== tests: -test.run '\$run'"
  STATSSUMMARY_CGROUP_DRIVER=\$driver STATSSUMMARY_CONTAINERD_BIN=/payload/containerd \\
    STATSSUMMARY_DEVRUNTIME_BIN=/payload/devruntime \\
    ./integration.test -test.v -test.count=1 -test.timeout 25m -test.run "\$run" >out/integration-\$driver.log 2>&1
  r=\$?
  grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS|FAIL|ok)' out/integration-\$driver.log | grep -v '=== RUN' || true
  echo "== integration, \$driver driver: exit \$r in \$((\$(date +%s) - began)) s"
  if [ \$r -ne 0 ]; then rc=1; tail -n 80 out/integration-\$driver.log; fi
done
exit \$rc
RUN
hack/vm/run.sh "$payload" "$out" "${VM_TIMEOUT:-3600}"
