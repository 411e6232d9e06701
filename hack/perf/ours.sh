# shellcheck shell=bash
# How the out-of-process benchmarks run ours: sourced by hack/perf/peer.sh (make
# bench-peer) and hack/perf/peer-ab.sh (make bench-ab), so that both measure the
# same thing. Ours runs `mode: cri` against hack/perf/fakecri, with an empty pod
# logs directory and kubelet root (peer.sh's header says why). They read
# INTERVAL, WARMUP and SCRAPES.

# start_fakecri BIN SOCK PODS CONTAINERS LOG: starts BIN serving a synthetic
# node of PODS × CONTAINERS on SOCK, sets fakecri_pid and waits for the socket;
# when it does not come, stops it and exits with LOG's text.
start_fakecri() {
	local bin=$1 sock=$2 pods=$3 containers=$4 log=$5
	"$bin" -socket "$sock" -pods "$pods" -containers "$containers" -refresh "$INTERVAL" >"$log" 2>&1 &
	fakecri_pid=$!
	for _ in $(seq 100); do [[ -S $sock ]] && return; sleep 0.1; done
	kill "$fakecri_pid" 2>/dev/null || true
	echo "$(basename "$0"): fakecri did not start: $(cat "$log")" >&2
	exit 1
}

# run_ours DRIVER SOCK DIR [ARG...]: hack/peer's DRIVER measuring ours against
# the fakecri on SOCK; DIR holds the empty pod-logs and kubelet directories
# (made here). Prints the driver's output.
run_ours() {
	local driver=$1 sock=$2 dir=$3
	shift 3
	mkdir -p "$dir/pod-logs" "$dir/kubelet"
	"$driver" run -receiver stats_summary -interval "$INTERVAL" -warmup "$WARMUP" -scrapes "$SCRAPES" \
		-set cri.endpoint="unix://$sock" -set cri.timeout=900ms -set mode=cri \
		-set cri.pod_logs_dir="$dir/pod-logs" -set host.kubelet_root_dir="$dir/kubelet" "$@"
}
