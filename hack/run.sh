#!/usr/bin/env bash
# `make run`: run the collector (built by `make build`) against a container runtime.
#   CRI_ENDPOINT set          → that runtime
#   a usual socket exists     → that runtime (containerd, then CRI-O)
#   neither                   → a private containerd with demo pods (hack/devruntime),
#                               torn down when the collector stops (Ctrl-C)
# usage: hack/run.sh COLLECTOR CONFIG
set -euo pipefail
cd "$(dirname "$0")/.."

collector=${1:?usage: hack/run.sh COLLECTOR CONFIG}
config=${2:?usage: hack/run.sh COLLECTOR CONFIG}

if [[ -n "${CRI_ENDPOINT:-}" ]]; then
  echo "run: using the runtime at CRI_ENDPOINT=$CRI_ENDPOINT"
  exec "$collector" --config "$config"
fi

for s in /run/containerd/containerd.sock /run/crio/crio.sock /var/run/containerd/containerd.sock /var/run/crio/crio.sock; do
  if [[ -S $s ]]; then
    echo "run: using the runtime found at $s (set CRI_ENDPOINT to pick another)"
    exec "$collector" --config "$config"
  fi
done

echo "run: no CRI_ENDPOINT and no runtime socket found: starting a private containerd with demo pods"
if [[ $EUID -ne 0 ]]; then
  echo "run: the private containerd needs root (mounts, cgroups, network namespaces) and this runs as uid $EUID." >&2
  echo "run: run 'make run' as root, or point CRI_ENDPOINT at a runtime's socket." >&2
  exit 1
fi
hack/install-runtime.sh
go build -o build/devruntime ./hack/devruntime
# The demo also serves the Summary as JSON on the receiver's default loopback address.
json_addr=127.0.0.1:10265
exec build/devruntime run -json "http://$json_addr/stats/summary" -- \
  "$collector" --config "$config" --set "receivers::stats_summary::server::endpoint=$json_addr"
