#!/usr/bin/env bash
# Collector against collector, out of process (make bench-peer): for each node
# size, ours (stats_summary) reads a synthetic node from hack/perf/fakecri, a
# CRI server in a process of its own; kubeletstats v0.164.1 (the peer) reads
# the Summary ours served for that same node from `peer serve`, an HTTP server
# in a process of its own, as it would read a kubelet's read-only port. Each
# receiver runs in hack/peer's driver (its own module), which measures only
# its own process: CPU per scrape, heap bytes and allocations per data point.
# Both emit the same metric set: ours enables exactly kubeletstats' default
# metrics (the driver's -peer-metrics), and the driver checks that every
# measured scrape carried data points.
#
# Ours runs `mode: cri`: the synthetic pods have no cgroups, so the cgroup
# provider would read only whatever this machine runs under /kubepods. Nor
# have they logs or volumes: ours' host provider walks an empty pod logs
# directory and kubelet root, not this machine's /var/log/pods and
# /var/lib/kubelet (a neighbour's 110 pods' logs walked at every scrape cost
# ours 6 ms of CPU per walk here, whatever the synthetic node's size). The
# peer's sample times are moved to each request's time, as a kubelet's are
# recent, so that it computes CPU usage as it does against a kubelet.
#
# Usage: hack/perf/peer.sh                         (110, 500, 1000 pods × 1 and 3, 1 round)
#        SIZES="110x3" ROUNDS=3 SCRAPES=30 hack/perf/peer.sh
#        INTERVAL=10s WARMUP=2 SCRAPES=6 hack/perf/peer.sh   (the default collection
#        interval: ours asks for the runtime's lists and image filesystem on a clock, so
#        its cost per scrape depends on the interval; docs/performance.md)
# Prints a table (median over rounds) and writes it and every run's JSON line
# to OUT (build/perf/peer.txt).
set -euo pipefail
SIZES=${SIZES:-110x1 110x3 500x1 500x3 1000x1 1000x3}
ROUNDS=${ROUNDS:-1}
SCRAPES=${SCRAPES:-15}
WARMUP=${WARMUP:-3}
INTERVAL=${INTERVAL:-1s}
OUT=${OUT:-build/perf/peer.txt}
GO=${GO:-go}
cd "$(dirname "$0")/../.."
# shellcheck source=hack/perf/ours.sh
. hack/perf/ours.sh

work=$(mktemp -d /tmp/statssummary-peer.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$(dirname "$OUT")" build
$GO -C hack/peer build -o "$PWD/build/peer" .
$GO build -o build/fakecri ./hack/perf/fakecri
runs=$work/runs.jsonl
: >"$runs"

for r in $(seq "$ROUNDS"); do
	for size in $SIZES; do
		pods=${size%x*} containers=${size#*x}
		sock=$work/cri-$size.sock
		start_fakecri build/fakecri "$sock" "$pods" "$containers" "$work/fakecri.log"
		pids+=("$fakecri_pid")

		# CRI answers at 1000 × 3 take most of a second here: a timeout under the interval.
		run_ours build/peer "$sock" "$work" -save-summary "$work/node.json" |
			sed -n "s/^{/{\"size\":\"$size\",\"round\":$r,/p" >>"$runs"
		kill "${pids[-1]}" 2>/dev/null || true

		build/peer serve -file "$work/node.json" >"$work/serve.addr" 2>"$work/serve.log" &
		pids+=($!)
		for _ in $(seq 50); do [[ -s $work/serve.addr ]] && break; sleep 0.1; done
		build/peer run -receiver kubeletstats -interval "$INTERVAL" -warmup "$WARMUP" -scrapes "$SCRAPES" \
			-set auth_type=none -set endpoint="http://$(head -1 "$work/serve.addr")" |
			sed -n "s/^{/{\"size\":\"$size\",\"round\":$r,/p" >>"$runs"
		kill "${pids[-1]}" 2>/dev/null || true
		: >"$work/serve.addr"
	done
done

{
	echo "# hack/perf/peer.sh, $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $ROUNDS round(s) of $SCRAPES scrapes every $INTERVAL after $WARMUP; median over rounds"
	build/peer table "$runs"
	echo
	echo "# runs"
	cat "$runs"
} | tee "$OUT"
