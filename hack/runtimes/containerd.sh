#!/usr/bin/env bash
# Prints the directory holding containerd, containerd-shim-runc-v2 and ctr of
# the containerd version asked for, building it from the Go module proxy into
# the per-machine cache (hack/lib/cache.sh) the first time (about 3 minutes on
# 2 cores). "system" prints /usr/bin, Debian's containerd 1.6
# (hack/install-runtime.sh installs it).
#   usage: hack/runtimes/containerd.sh [VERSION]   (default: $CONTAINERD_VERSION or 2.4.2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cache.sh
source "$here/../lib/cache.sh"

version=${1:-${CONTAINERD_VERSION:-2.4.2}}
version=${version#v}
if [[ $version == system ]]; then
  echo /usr/bin
  exit 0
fi
tags='no_btrfs no_devmapper no_zfs'

build() {
  local out=$1
  # The build's own module cache and build cache are the caller's (warm in CI
  # after the first run); the binaries go into the artefact directory.
  # The version the release build stamps (the runtime answers it to CRI
  # Version, and the receiver reads it), not go install's "+unknown".
  local pkg=github.com/containerd/containerd/v2/version
  GOBIN=$out GOFLAGS=-mod=mod go install -trimpath -tags "$tags" \
    -ldflags "-X $pkg.Version=v$version -X $pkg.Revision=module-proxy" \
    "github.com/containerd/containerd/v2/cmd/containerd@v$version" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@v$version" \
    "github.com/containerd/containerd/v2/cmd/ctr@v$version"
  "$out/containerd" --version
}

key=$(cache_key "$0" "$here/../lib/cache.sh" -- "$version" "$tags" "$(go env GOVERSION)")
cache_build "containerd-$version" "$key" build
