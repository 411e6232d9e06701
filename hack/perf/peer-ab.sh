#!/usr/bin/env bash
# Ours at two revisions, out of process (make bench-ab): hack/peer's driver built
# from OLD_REV (a git revision) and from NEW_REV (a revision, or the working tree
# when empty) scrapes one hack/perf/fakecri node, the two alternating round by round
# (which goes first alternates too), so that a shared machine's drift falls on
# both alike. Each round is one driver run of SCRAPES scrapes, as in
# hack/perf/peer.sh (both run ours through hack/perf/ours.sh); its CPU per scrape, bytes and allocations per data point are
# written as one benchstat line per round, and benchstat compares the two sets
# (median, spread, p-value). On this kind of machine single rounds of the same
# binary spread by ±20 % or more: a change of a few per cent needs 12 or more
# rounds, and benchstat's "~" is the honest answer when it says so.
#
# Usage: hack/perf/peer-ab.sh OLD_REV=HEAD~1               (the working tree against HEAD~1)
#        OLD_REV=275dbde NEW_REV=HEAD SIZE=110x3 ROUNDS=16 hack/perf/peer-ab.sh
# Writes OUT/old.txt, OUT/new.txt and OUT/benchstat.txt (build/perf/ab).
set -euo pipefail
for arg in "$@"; do
	case $arg in
	*=*) export "${arg?}" ;;
	*) echo "peer-ab: arguments are NAME=value (OLD_REV, NEW_REV, SIZE, ROUNDS, SCRAPES)" >&2; exit 2 ;;
	esac
done
OLD_REV=${OLD_REV:?peer-ab: OLD_REV=<git revision> is required}
NEW_REV=${NEW_REV:-}
SIZE=${SIZE:-110x1}
ROUNDS=${ROUNDS:-12}
SCRAPES=${SCRAPES:-20}
WARMUP=${WARMUP:-3}
INTERVAL=${INTERVAL:-1s}
OUT=${OUT:-build/perf/ab}
GO=${GO:-go}
cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=hack/perf/ours.sh
. hack/perf/ours.sh

[[ $SIZE =~ ^[0-9]+x[0-9]+$ ]] || { echo "peer-ab: SIZE is PODSxCONTAINERS, got '$SIZE'" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "peer-ab: ROUNDS must be a positive integer, got '$ROUNDS'" >&2; exit 2; }
git rev-parse --verify --quiet "$OLD_REV^{commit}" >/dev/null || { echo "peer-ab: OLD_REV '$OLD_REV' is not a commit here" >&2; exit 2; }
[[ -z $NEW_REV ]] || git rev-parse --verify --quiet "$NEW_REV^{commit}" >/dev/null || { echo "peer-ab: NEW_REV '$NEW_REV' is not a commit here" >&2; exit 2; }

work=$(mktemp -d /tmp/statssummary-ab.XXXXXX)
fakecri_pid=
cleanup() {
	[[ -z $fakecri_pid ]] || kill "$fakecri_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	for t in "$work"/tree-*; do [[ -d $t ]] && git -C "$root" worktree remove --force "$t" >/dev/null 2>&1; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$OUT"

# build NAME REV: the driver of revision REV (the working tree when empty) as $work/NAME.
build() {
	local name=$1 rev=$2 src=$root
	if [[ -n $rev ]]; then
		src=$work/tree-$name
		git -C "$root" worktree add --quiet --detach "$src" "$rev"
	fi
	$GO -C "$src/hack/peer" build -o "$work/$name" .
	echo "peer-ab: $name = ${rev:-working tree} ($(git -C "$src" rev-parse --short HEAD)$([[ -n $rev ]] || git -C "$src" diff --quiet HEAD -- . || echo ", with uncommitted changes"))"
}
build old "$OLD_REV"
build new "$NEW_REV"
$GO build -o "$work/fakecri" ./hack/perf/fakecri

sock=$work/cri.sock
start_fakecri "$work/fakecri" "$sock" "${SIZE%x*}" "${SIZE#*x}" "$work/fakecri.log"

: >"$OUT/old.txt"
: >"$OUT/new.txt"
# run NAME: one driver run; appends its benchstat line to OUT/NAME.txt. The
# driver itself fails a window with a scrape that carried no data point.
run() {
	local name=$1 line
	line=$(run_ours "$work/$name" "$sock" "$work" | grep '^{')
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print("BenchmarkPeerScrape/size=%s 1 %.0f cpu-ns/scrape %.1f B/point %.3f allocs/point" % (
    sys.argv[2], d["cpu_ms_per_scrape"] * 1e6, d["bytes_per_datapoint"], d["allocs_per_datapoint"]))
' "$line" "$SIZE" | tee -a "$OUT/$name.txt" | sed "s/^/$name /"
}
for r in $(seq "$ROUNDS"); do
	if ((r % 2)); then run old; run new; else run new; run old; fi
done

$GO tool -modfile=tools/go.mod benchstat "$OUT/old.txt" "$OUT/new.txt" | tee "$OUT/benchstat.txt"
