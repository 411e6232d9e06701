#!/usr/bin/env bash
# Prints the directory holding the kubelet binary (v1.37.2, the module in
# hack/kubelet), building it from the Go module proxy into the per-machine
# cache (hack/lib/cache.sh) the first time (about 5 minutes on 2 cores and a
# large module download). The parity suite (test/parity, `make test-parity`)
# runs it as the reference.
#   usage: hack/runtimes/kubelet.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cache.sh
source "$here/../lib/cache.sh"

mod=$here/../kubelet
# The version the module requires; the binary reports it as its own (upstream's
# build stamps it the same way).
version=$(cd "$mod" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' k8s.io/kubernetes)
if [[ -z $version ]]; then
  echo "kubelet.sh: no k8s.io/kubernetes requirement in $mod/go.mod" >&2
  exit 1
fi
minor=${version#v1.}
minor=${minor%%.*}

build() {
  local out=$1
  # The build's own module cache and build cache are the caller's (warm in CI
  # after the first run); the binary goes into the artefact directory.
  (
    cd "$mod"
    GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 go build -trimpath -o "$out/kubelet" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
      .
  )
  "$out/kubelet" --version
}

key=$(cache_key "$0" "$here/../lib/cache.sh" "$mod/go.mod" "$mod/go.sum" "$mod/main.go" -- "$(go env GOVERSION)")
cache_build "kubelet-$version" "$key" build
