#!/usr/bin/env bash
# Interleaved A/B runs of the steady-state measurement (hack/perf/steady-state.sh)
# against one real private containerd (hack/devruntime, root) running PODS idle
# pods × CONTAINERS: the collector with issue 15's metrics off, then on, ROUNDS
# times, each for WINDOW seconds after WARMUP, so that a shared machine's load
# drifts over both alike. Prints one line per run and the median and range per
# variant; the reports are build/perf/ab-<variant>-<round>.txt.
#
# Usage: hack/perf/steady-ab.sh                      (containerd from /usr/bin, 110 × 3, 3 rounds)
#        STATSSUMMARY_CONTAINERD_BIN=$(hack/runtimes/containerd.sh) hack/perf/steady-ab.sh
#        CRI_TIMEOUT=9s VARIANTS="off default on" ROUNDS=5 hack/perf/steady-ab.sh
set -euo pipefail
PODS=${PODS:-110}
CONTAINERS=${CONTAINERS:-3}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-off on}
WARMUP=${WARMUP:-40}
WINDOW=${WINDOW:-180}
GO=${GO:-go}
cd "$(dirname "$0")/../.."
[[ $EUID -eq 0 ]] || { echo "steady-ab: needs root (a private containerd)" >&2; exit 1; }

if [[ -z ${STEADY_AB_DEVRUNTIME:-} ]]; then
	hack/install-runtime.sh
	$GO build -o build/devruntime ./hack/devruntime
	mkdir -p build/perf
	export PODS CONTAINERS ROUNDS VARIANTS WARMUP WINDOW GO CRI_TIMEOUT="${CRI_TIMEOUT:-5s}"
	STEADY_AB_DEVRUNTIME=1 exec build/devruntime run -name steadyab -demo=false -pods "$PODS" -containers "$CONTAINERS" -- "$PWD/hack/perf/steady-ab.sh"
fi

summary=build/perf/ab-summary.txt
: >"$summary"
for r in $(seq "$ROUNDS"); do
	for v in $VARIANTS; do
		out=build/perf/ab-$v-$r.txt
		NEW_METRICS=$v OUT=$out WARMUP=$WARMUP WINDOW=$WINDOW hack/perf/steady-state.sh >/dev/null
		mc=$(sed -n 's/.*collector CPU: [0-9.]* s = \([0-9.]*\) millicores.*/\1/p' "$out")
		hwm=$(sed -n 's/.*peak (VmHWM) \([0-9.]*\) MiB.*/\1/p' "$out")
		load=$(sed -n 's/.*load average \(.*\)$/\1/p' "$out")
		batches=$(sed -n 's/.*resource metrics per batch (value×batches): \(.*\)$/\1/p' "$out")
		fds=$(sed -n 's/.*open file descriptors at the end: \([0-9]*\).*/\1/p' "$out")
		echo "$v round $r: $mc millicores, peak RSS $hwm MiB (load average $load; resources per batch: $batches; open fds $fds)" | tee -a "$summary"
	done
done
# median MIN MAX of the numbers on stdin.
stats() { sort -n | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.1f %.1f %.1f %d", m, v[1], v[NR], NR}'; }
for v in $VARIANTS; do
	read -r mcm mcl mch n < <(grep "^$v round" "$summary" | awk '{print $4}' | stats)
	read -r rm rl rh _ < <(grep "^$v round" "$summary" | awk '{print $8}' | stats)
	echo "$v: median $mcm millicores (range $mcl–$mch), peak RSS median $rm MiB (range $rl–$rh) over $n runs" | tee -a "$summary"
done
