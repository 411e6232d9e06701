#!/usr/bin/env bash
# Steady-state cost of the collector (`make build`'s otelcol-statssummary):
# CPU seconds and RSS of the collector process over a fixed window, after a
# warm-up, scraping a node every INTERVAL.
#
# The node is the runtime at CRI_ENDPOINT when it is set (a real containerd:
# `make run`'s demo runtime, for instance); otherwise hack/perf/fakecri serves a
# synthetic node of PODS pods × CONTAINERS containers on a private socket, and
# only the collector's process is measured, not the fake runtime's.
#
# Usage: hack/perf/steady-state.sh            (110 pods × 3, 10 s, 60 s warm-up, 300 s window)
#        WINDOW=600 PODS=1000 hack/perf/steady-state.sh
# Writes a report to OUT (build/perf/steady-state.txt) and prints it.
set -euo pipefail

PODS=${PODS:-110}
CONTAINERS=${CONTAINERS:-3}
INTERVAL=${INTERVAL:-10s}
WARMUP=${WARMUP:-60}   # seconds
WINDOW=${WINDOW:-300}  # seconds
SAMPLE=${SAMPLE:-5}    # seconds between RSS samples
COLLECTOR=${COLLECTOR:-build/otelcol-statssummary/otelcol-statssummary}
OUT=${OUT:-build/perf/steady-state.txt}
GO=${GO:-go}

cd "$(dirname "$0")/../.."
[[ -x $COLLECTOR ]] || { echo "steady-state: $COLLECTOR missing: run make build" >&2; exit 1; }
work=$(mktemp -d /tmp/statssummary-perf.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -n ${CRI_ENDPOINT:-} ]]; then
	endpoint=$CRI_ENDPOINT
	node="runtime at $CRI_ENDPOINT"
else
	$GO build -o "$work/fakecri" ./hack/perf/fakecri
	"$work/fakecri" -socket "$work/cri.sock" -pods "$PODS" -containers "$CONTAINERS" >"$work/fakecri.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do [[ -S $work/cri.sock ]] && break; sleep 0.1; done
	[[ -S $work/cri.sock ]] || { cat "$work/fakecri.log" >&2; exit 1; }
	endpoint=unix://$work/cri.sock
	node="hack/perf/fakecri, $PODS pods × $CONTAINERS containers (synthetic node)"
fi

cat >"$work/config.yaml" <<YAML
receivers:
  stats_summary:
    collection_interval: $INTERVAL
    node_name: perf-node
    cri:
      endpoint: $endpoint
      timeout: 5s
processors:
  batch:
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [stats_summary]
      processors: [batch]
      exporters: [debug]
YAML

"$COLLECTOR" --config "$work/config.yaml" >"$work/collector.log" 2>&1 &
collector=$!
pids+=("$collector")

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$collector/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$collector/status"; }

sleep "$WARMUP"
kill -0 "$collector" 2>/dev/null || { echo "steady-state: the collector exited:" >&2; cat "$work/collector.log" >&2; exit 1; }
t0=$(date +%s.%N); c0=$(cpu_ticks)
rss_max=0; rss_sum=0; rss_n=0
end=$(( $(date +%s) + WINDOW ))
while (( $(date +%s) < end )); do
	r=$(rss_kib); rss_sum=$(( rss_sum + r )); rss_n=$(( rss_n + 1 ))
	(( r > rss_max )) && rss_max=$r
	sleep "$SAMPLE"
done
t1=$(date +%s.%N); c1=$(cpu_ticks)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$collector/status")
scrapes=$(grep -c 'Metrics' "$work/collector.log" || true)

mkdir -p "$(dirname "$OUT")"
{
	echo "steady state of $COLLECTOR ($(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%FT%TZ))"
	echo "machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "node: $node; collection_interval $INTERVAL; warm-up ${WARMUP}s"
	awk -v c="$((c1 - c0))" -v hz="$ticks" -v t0="$t0" -v t1="$t1" \
		'BEGIN { w = t1 - t0; s = c / hz; printf "window: %.1f s; collector CPU: %.2f s = %.1f millicores\n", w, s, s / w * 1000 }'
	awk -v m="$rss_max" -v s="$rss_sum" -v n="$rss_n" -v h="$hwm" \
		'BEGIN { printf "collector RSS: mean %.1f MiB, max %.1f MiB over %d samples; peak (VmHWM) %.1f MiB\n", s / n / 1024, m / 1024, n, h / 1024 }'
	echo "debug exporter batches logged: $scrapes; last: $(grep 'Metrics' "$work/collector.log" | tail -1 | sed 's/.*Metrics\t*//')"
} | tee "$OUT"
