#!/usr/bin/env bash
# Prints the directory holding the apiserver launcher (hack/apiserver: the
# upstream kube-apiserver v1.37.2 command with etcd in-process), building it
# from the Go module proxy into the per-machine cache (hack/lib/cache.sh) the
# first time. The pod metadata test (test/apiserver, `make test-apiserver`)
# runs it as the real API server.
#   usage: hack/runtimes/apiserver.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cache.sh
source "$here/../lib/cache.sh"

mod=$here/../apiserver
# The version the module requires; the binary reports it as its own (upstream's
# build stamps it the same way), and clients see it in /version.
version=$(cd "$mod" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' k8s.io/kubernetes)
if [[ -z $version ]]; then
  echo "apiserver.sh: no k8s.io/kubernetes requirement in $mod/go.mod" >&2
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
    GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 go build -trimpath -o "$out/apiserver" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
      .
  )
}

key=$(cache_key "$0" "$here/../lib/cache.sh" "$mod/go.mod" "$mod/go.sum" "$mod/main.go" -- "$(go env GOVERSION)")
cache_build "apiserver-$version" "$key" build
