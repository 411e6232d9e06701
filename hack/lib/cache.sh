# shellcheck shell=bash
# Per-machine cache of slow-to-build artefacts (a containerd build, a kubelet
# binary, a VM image). Sourced by the hack/ build scripts.
#
# An artefact lives in $STATSSUMMARY_CACHE/<name>-<key>/, where <key> is a hash
# of everything that went into it: the scripts that build it, the versions they
# take and the Go toolchain. A change to any input is a new key, so a stale
# artefact is never reused; old keys are simply left (rm -rf the cache to
# reclaim them). Building happens in a temporary directory renamed into place
# only when complete, under a lock, so concurrent callers build it once and an
# interrupted build leaves nothing that looks finished.

STATSSUMMARY_CACHE=${STATSSUMMARY_CACHE:-/var/cache/statssummary}

# cache_key FILE... -- STRING...: a 16-hex-digit hash of the files' contents and
# the strings.
cache_key() {
  local files=() strings=()
  while (($#)); do
    if [[ $1 == -- ]]; then shift; strings=("$@"); break; fi
    files+=("$1"); shift
  done
  { cat "${files[@]}"; printf '%s\n' "${strings[@]}"; } | sha256sum | cut -c1-16
}

# cache_build NAME KEY BUILDER: print the artefact directory of NAME at KEY,
# running `BUILDER DIR` to fill a fresh DIR first when it is not cached. The
# builder's output goes to stderr, so that stdout carries only the path.
cache_build() {
  local name=$1 key=$2 builder=$3
  local dir=$STATSSUMMARY_CACHE/$name-$key
  mkdir -p "$STATSSUMMARY_CACHE"
  (
    flock 9
    if [[ -f $dir/.complete ]]; then
      exit 0
    fi
    local tmp
    tmp=$(mktemp -d "$STATSSUMMARY_CACHE/.$name-$key.XXXXXX")
    local began=$SECONDS
    echo "cache: building $name ($key) into $dir" >&2
    if ! "$builder" "$tmp" >&2; then
      echo "cache: building $name failed; nothing cached" >&2
      rm -rf "$tmp"
      exit 1
    fi
    date -u +%FT%TZ >"$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    echo "cache: built $name in $((SECONDS - began)) s" >&2
  ) 9>"$STATSSUMMARY_CACHE/.$name.lock" || return 1
  printf '%s\n' "$dir"
}
