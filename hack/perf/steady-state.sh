#!/usr/bin/env bash
# Steady-state cost of the collector (`make build`'s otelcol-statssummary):
# CPU seconds and RSS of the collector process over a fixed window, after a
# warm-up, scraping a node every INTERVAL.
#
# The node, by RUNTIME:
#   containerd  a real private containerd (hack/devruntime, root) running PODS
#               idle pods × CONTAINERS containers (each pod in its own network
#               namespace, each container a sleeping busybox); the script runs
#               itself again under `devruntime run`, which tears it all down at
#               the end. Its daemon's and shims' CPU is reported too, also over a
#               BASELINE window before the collector starts.
#   fakecri     hack/perf/fakecri serves a synthetic node of PODS × CONTAINERS
#               on a private socket; only the collector's process is measured.
#   (unset)     the runtime at CRI_ENDPOINT when it is set (`make run`'s demo
#               runtime, for instance), else fakecri.
#
# Usage: hack/perf/steady-state.sh            (fakecri, 110 pods × 3, 10 s, 60 s warm-up, 300 s window)
#        RUNTIME=containerd CONTAINERS=1 hack/perf/steady-state.sh
#        RUNTIME=containerd CRI_TIMEOUT=9s hack/perf/steady-state.sh   (containerd 1.6 answers
#            ListPodSandboxStats for 110 × 3 in 4.3-5.1 s here: over a 5 s timeout, scrapes are partial)
#        WINDOW=600 PODS=1000 hack/perf/steady-state.sh
#        PROFILE=1 hack/perf/steady-state.sh   (the pprof extension on PPROF_ADDR; a CPU profile
#            of the collector over the whole window is written beside OUT, ${OUT%.txt}.cpu.pprof:
#            go tool pprof -top COLLECTOR FILE)
#        NEW_METRICS=on hack/perf/steady-state.sh   (issue 15's metrics: "default" is the
#            receiver's defaults, the cgroup counters on and the 12 utilization metrics off;
#            "on" turns every one of them on, disk operations too; "off" turns them all off,
#            the collector as before issue 15)
# Writes a report to OUT (build/perf/steady-state.txt) and prints it, and keeps
# the collector's (and containerd's) log beside it. After the window the
# collector's JSON endpoint (SUMMARY_ADDR) is read once, to count the pods of
# the Summary it built.
set -euo pipefail

RUNTIME=${RUNTIME:-}
PODS=${PODS:-110}
CONTAINERS=${CONTAINERS:-3}
INTERVAL=${INTERVAL:-10s}
CRI_TIMEOUT=${CRI_TIMEOUT:-5s} # the receiver's cri.timeout
WARMUP=${WARMUP:-60}   # seconds
WINDOW=${WINDOW:-300}  # seconds
SAMPLE=${SAMPLE:-5}    # seconds between RSS samples
BASELINE=${BASELINE:-60} # seconds of the runtime alone (RUNTIME=containerd)
COLLECTOR=${COLLECTOR:-build/otelcol-statssummary/otelcol-statssummary}
OUT=${OUT:-build/perf/steady-state.txt}
SUMMARY_ADDR=${SUMMARY_ADDR:-127.0.0.1:10266}
NEW_METRICS=${NEW_METRICS:-default}
PROFILE=${PROFILE:-}
PPROF_ADDR=${PPROF_ADDR:-127.0.0.1:10267}
GO=${GO:-go}

cd "$(dirname "$0")/../.."
[[ -x $COLLECTOR ]] || { echo "steady-state: $COLLECTOR missing: run make build" >&2; exit 1; }

case $RUNTIME in
containerd)
	if [[ -z ${STEADY_STATE_DEVRUNTIME:-} ]]; then
		# Bring the runtime up and run this script again as devruntime's command
		# (with CRI_ENDPOINT and DEVRUNTIME_DIR set); report the pods' start-up and
		# the teardown from devruntime's log once it is gone.
		[[ $EUID -eq 0 ]] || { echo "steady-state: RUNTIME=containerd needs root (a private containerd)" >&2; exit 1; }
		hack/install-runtime.sh
		$GO build -o build/devruntime ./hack/devruntime
		mkdir -p "$(dirname "$OUT")"
		log=${OUT%.txt}.devruntime.log
		export RUNTIME PODS CONTAINERS INTERVAL CRI_TIMEOUT WARMUP WINDOW SAMPLE BASELINE COLLECTOR OUT SUMMARY_ADDR GO NEW_METRICS PROFILE PPROF_ADDR
		# devruntime's log to stderr (without its line per pod) and to $log.
		set +e
		{
			STEADY_STATE_DEVRUNTIME=1 build/devruntime run -name steady -demo=false -pods "$PODS" -containers "$CONTAINERS" \
				-- "$PWD/hack/perf/steady-state.sh" 2>&1 1>&3 3>&- | tee "$log" | grep --line-buffered -v '^containerdenv: pod ' >&2
			rc=${PIPESTATUS[0]}
		} 3>&1
		set -e
		{
			sed -n 's/^devruntime: \(.* started in .*\)/pod start-up: \1/p' "$log"
			sed -n 's/^devruntime: runtime removed in \(.*\)/teardown (pods through CRI, then the daemon and what is left): \1/p' "$log"
		} | tee -a "$OUT"
		exit "$rc"
	fi
	[[ -n ${CRI_ENDPOINT:-} && -n ${DEVRUNTIME_DIR:-} ]] || { echo "steady-state: devruntime did not set CRI_ENDPOINT and DEVRUNTIME_DIR" >&2; exit 1; }
	;;
fakecri | "") ;;
*) echo "steady-state: RUNTIME=$RUNTIME: want containerd or fakecri" >&2; exit 1 ;;
esac

work=$(mktemp -d /tmp/statssummary-perf.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# The private containerd's daemon and its shims (RUNTIME=containerd), measured too.
daemon_pid=
shim_pids=()
expect_pods=
if [[ $RUNTIME == containerd ]]; then
	endpoint=$CRI_ENDPOINT
	daemon_pid=$(cat "$DEVRUNTIME_DIR/containerd.pid")
	for d in /proc/[0-9]*; do
		args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		[[ $args == *containerd-shim*" -address $DEVRUNTIME_DIR/containerd.sock "* ]] && shim_pids+=("${d#/proc/}")
	done
	node="a real containerd ($("${STATSSUMMARY_CONTAINERD_BIN:+$STATSSUMMARY_CONTAINERD_BIN/}containerd" --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}'), private instance of hack/devruntime) running $PODS pods × $CONTAINERS container$( ((CONTAINERS == 1)) || echo s) (busybox sleep; each pod in its own network namespace; ${#shim_pids[@]} shims)"
	expect_pods=$PODS
elif [[ -z $RUNTIME && -n ${CRI_ENDPOINT:-} ]]; then
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
	expect_pods=$PODS
fi

ticks=$(getconf CLK_TCK)
# ticks_of PID...: utime + stime of the processes (all their threads).
ticks_of() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done; echo "$t"; }
runtime_ticks() { ticks_of "$daemon_pid"; ticks_of "${shim_pids[@]}"; }
millicores() { awk -v c="$1" -v hz="$ticks" -v w="$2" 'BEGIN { s = c / hz; printf "%.2f s = %.1f millicores", s, s / w * 1000 }'; }

baseline=
if [[ -n $daemon_pid ]] && (( BASELINE > 0 )); then
	# The runtime on its own (containerd's stats collection, the shims' idling).
	read -r -d '' d0 s0 < <(runtime_ticks) || true
	b0=$(date +%s.%N)
	sleep "$BASELINE"
	read -r -d '' d1 s1 < <(runtime_ticks) || true
	bw=$(awk -v a="$b0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	baseline="runtime without the collector, ${bw} s before it started: containerd $(millicores $((d1 - d0)) "$bw"); shims $(millicores $((s1 - s0)) "$bw")"
fi

# Issue 15's metrics (NEW_METRICS): the cgroup counters and the utilization metrics.
new_metrics=(container.cpu.throttling_data.periods container.cpu.throttling_data.throttled_periods
	container.cpu.throttling_data.throttled_time container.memory.events container.disk.io container.disk.operations
	k8s.pod.cpu.throttling_data.periods k8s.pod.cpu.throttling_data.throttled_periods k8s.pod.cpu.throttling_data.throttled_time
	k8s.pod.memory.events k8s.pod.disk.io k8s.pod.disk.operations
	k8s.container.cpu.node.utilization k8s.container.cpu_limit_utilization k8s.container.cpu_request_utilization
	k8s.container.memory.node.utilization k8s.container.memory_limit_utilization k8s.container.memory_request_utilization
	k8s.pod.cpu.node.utilization k8s.pod.cpu_limit_utilization k8s.pod.cpu_request_utilization
	k8s.pod.memory.node.utilization k8s.pod.memory_limit_utilization k8s.pod.memory_request_utilization)
metrics_block=
case $NEW_METRICS in
default) ;;
on | off)
	enabled=true; [[ $NEW_METRICS == off ]] && enabled=false
	metrics_block="    metrics:"$'\n'
	for m in "${new_metrics[@]}"; do metrics_block+="      $m: {enabled: $enabled}"$'\n'; done
	;;
*) echo "steady-state: NEW_METRICS=$NEW_METRICS: want default, on or off" >&2; exit 1 ;;
esac

extensions_block= service_extensions=
if [[ -n $PROFILE ]]; then
	extensions_block="extensions:"$'\n'"  pprof:"$'\n'"    endpoint: $PPROF_ADDR"$'\n'
	service_extensions="  extensions: [pprof]"$'\n'
fi

cat >"$work/config.yaml" <<YAML
receivers:
  stats_summary:
    collection_interval: $INTERVAL
    node_name: perf-node
    cri:
      endpoint: $endpoint
      timeout: $CRI_TIMEOUT
    server:
      endpoint: $SUMMARY_ADDR
${metrics_block}${extensions_block}processors:
  batch:
exporters:
  debug:
    verbosity: basic
service:
${service_extensions}  telemetry:
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

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$collector/status"; }

sleep "$WARMUP"
kill -0 "$collector" 2>/dev/null || { echo "steady-state: the collector exited:" >&2; cat "$work/collector.log" >&2; exit 1; }
t0=$(date +%s.%N); c0=$(ticks_of "$collector"); read -r u0 k0 < <(awk '{print $14, $15}' "/proc/$collector/stat")
[[ -n $daemon_pid ]] && read -r -d '' d0 s0 < <(runtime_ticks) || true
lines0=$(wc -l <"$work/collector.log")
profile_pid=
if [[ -n $PROFILE ]]; then
	mkdir -p "$(dirname "$OUT")"
	curl -sf -o "${OUT%.txt}.cpu.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$WINDOW" &
	profile_pid=$!
fi
rss_max=0; rss_sum=0; rss_n=0
end=$(( $(date +%s) + WINDOW ))
while (( $(date +%s) < end )); do
	r=$(rss_kib); rss_sum=$(( rss_sum + r )); rss_n=$(( rss_n + 1 ))
	(( r > rss_max )) && rss_max=$r
	sleep "$SAMPLE"
done
t1=$(date +%s.%N); c1=$(ticks_of "$collector"); read -r u1 k1 < <(awk '{print $14, $15}' "/proc/$collector/stat")
[[ -n $daemon_pid ]] && read -r -d '' d1 s1 < <(runtime_ticks) || true
[[ -n $profile_pid ]] && { wait "$profile_pid" || echo "steady-state: the CPU profile could not be read from $PPROF_ADDR" >&2; }
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$collector/status")
open_fds=$(find "/proc/$collector/fd" -mindepth 1 -maxdepth 1 | wc -l)
w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# What the collector emitted: one debug line per batch, one batch per scrape.
batches=$(grep -c '"resource metrics": ' "$work/collector.log" || true)
in_window=$(tail -n +"$((lines0 + 1))" "$work/collector.log" | grep -c '"resource metrics": ' || true)
resources=$(grep -o '"resource metrics": [0-9]*' "$work/collector.log" | awk '{print $3}' | sort -n | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')
problems=$(grep -ciP '\t(warn|error)\t' "$work/collector.log" || true)
# The Summary the collector built last, read once after the window.
summary_pods="not read (curl or jq missing)"
if command -v curl >/dev/null && command -v jq >/dev/null; then
	summary_pods=$(curl -sf "http://$SUMMARY_ADDR/stats/summary" | jq -r '"\(.pods | length) pods, \([.pods[].containers | length] | add // 0) containers, \([.pods[] | select(.network != null)] | length) pods with network stats"') ||
		summary_pods="not read (GET http://$SUMMARY_ADDR/stats/summary failed)"
fi

mkdir -p "$(dirname "$OUT")"
{
	echo "steady state of $COLLECTOR ($(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%FT%TZ))"
	echo "machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "node: $node"
	echo "collection_interval $INTERVAL; cri.timeout $CRI_TIMEOUT; warm-up ${WARMUP}s; issue 15's metrics: $NEW_METRICS"
	echo "window: $w s; collector CPU: $(millicores $((c1 - c0)) "$w") (user $(awk -v c=$((u1 - u0)) -v hz="$ticks" 'BEGIN { printf "%.2f", c / hz }') s, system $(awk -v c=$((k1 - k0)) -v hz="$ticks" 'BEGIN { printf "%.2f", c / hz }') s)"
	awk -v m="$rss_max" -v s="$rss_sum" -v n="$rss_n" -v h="$hwm" \
		'BEGIN { printf "collector RSS: mean %.1f MiB, max %.1f MiB over %d samples; peak (VmHWM) %.1f MiB\n", s / n / 1024, m / 1024, n, h / 1024 }'
	echo "collector open file descriptors at the end: $open_fds (cgroup files kept open for pread among them)"
	if [[ -n $daemon_pid ]]; then
		echo "runtime over the window (not the collector; its CRI calls included): containerd $(millicores $((d1 - d0)) "$w"); shims $(millicores $((s1 - s0)) "$w")"
		[[ -n $baseline ]] && echo "$baseline"
		rss_of() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status") )); done; echo "$t"; }
		awk -v d="$(rss_of "$daemon_pid")" -v s="$(rss_of "${shim_pids[@]}")" -v n="${#shim_pids[@]}" \
			'BEGIN { printf "runtime RSS at the end: containerd %.1f MiB; %d shims %.1f MiB together\n", d / 1024, n, s / 1024 }'
		echo "containerd log lines at level=error during the run: $(grep -c 'level=error' "$DEVRUNTIME_DIR/containerd.log" || true)"
	fi
	echo "debug exporter batches logged: $batches ($in_window in the window); resource metrics per batch (value×batches): $resources"
	echo "last batch: $(grep '"resource metrics": ' "$work/collector.log" | tail -1 | sed 's/.*"resource metrics"/"resource metrics"/')"
	echo "Summary at the end: $summary_pods${expect_pods:+ (the node has $expect_pods pods)}"
	echo "collector log lines at warn or error: $problems"
	grep -iP '\t(warn|error)\t' "$work/collector.log" | grep -o '"error": "[^"]*"' | sort | uniq -c | sort -rn | head -5 | cut -c1-400 || true
} | tee "$OUT"
# The logs, for what the report only counts.
cp "$work/collector.log" "${OUT%.txt}.collector.log"
[[ -n ${DEVRUNTIME_DIR:-} ]] && cp "$DEVRUNTIME_DIR/containerd.log" "${OUT%.txt}.containerd.log"
echo "logs: ${OUT%.txt}.collector.log${DEVRUNTIME_DIR:+, ${OUT%.txt}.containerd.log}"
