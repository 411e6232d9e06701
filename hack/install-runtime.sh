#!/usr/bin/env bash
# Installs what the private containerd of the integration suite and `make run`
# needs (Debian packages), unless it is all there already. Needs root.
set -euo pipefail

packages=(containerd runc busybox-static containernetworking-plugins iproute2)
need=(/usr/bin/containerd /usr/bin/ctr /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc /bin/busybox
      /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/sbin/ip)

missing=0
for f in "${need[@]}"; do [[ -e $f ]] || missing=1; done
if (( missing == 0 )); then
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "install-runtime: ${packages[*]} are needed and installing them needs root (this runs as uid $EUID)" >&2
  exit 1
fi
echo "install-runtime: apt-get install ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be missing or stale: update, then
# install; a mirror caught mid-sync gets one more try.
install() {
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}
install || { echo "install-runtime: retrying once" >&2; sleep 5; install; }
for f in "${need[@]}"; do
  [[ -e $f ]] || { echo "install-runtime: $f still missing after installing ${packages[*]}" >&2; exit 1; }
done
