#!/usr/bin/env bash
# Scrape against its CRI floors, from back-to-back runs: each round runs
# RawCRI, RawCRITrimmed and Scrape for one node size, one after the other, and
# takes the ratios of their CPU per op (cpu-ns/op); the report is the median
# and range of each ratio over ROUNDS rounds. Runs close in time see the same
# load on a shared machine, which -count runs minutes apart do not.
#
# Usage: hack/perf/pairs.sh                       (110 and 1000 pods × 1 and 3 containers, 7 rounds)
#        SIZES='pods=110/containers=3' ROUNDS=11 hack/perf/pairs.sh
# Writes every round to OUT (build/bench/pairs.txt) and prints the summary.
set -euo pipefail

SIZES=${SIZES:-pods=110/containers=1 pods=110/containers=3 pods=1000/containers=1 pods=1000/containers=3}
ROUNDS=${ROUNDS:-7}
BENCHTIME=${BENCHTIME:-1s}
OUT=${OUT:-build/bench/pairs.txt}
GO=${GO:-go}

cd "$(dirname "$0")/../.."
mkdir -p "$(dirname "$OUT")"
bin=$(mktemp /tmp/statssummary-pairs.XXXXXX)
trap 'rm -f "$bin"' EXIT
$GO -C receiver/statssummaryreceiver test -c -o "$bin" .

cpu() { # benchmark size → cpu-ns/op
	"$bin" -test.run '^$' -test.bench "$1\$/$2" -test.benchtime "$BENCHTIME" |
		awk '/^Benchmark/ { for (i = 1; i < NF; i++) if ($(i + 1) == "cpu-ns/op") print $i }'
}
summary() { # ratios… → "median (min–max)"
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f (%.2f–%.2f)", m, a[1], a[NR] }'
}

: >"$OUT"
report=()
for size in $SIZES; do
	full=(); trimmed=()
	for round in $(seq "$ROUNDS"); do
		raw=$(cpu RawCRI "$size"); trim=$(cpu RawCRITrimmed "$size"); scrape=$(cpu Scrape "$size")
		[[ -n $raw && -n $trim && -n $scrape ]] || { echo "pairs: no figure for $size (round $round)" >&2; exit 1; }
		echo "$size round $round cpu-ns/op RawCRI $raw RawCRITrimmed $trim Scrape $scrape" >>"$OUT"
		full+=("$(awk -v s="$scrape" -v r="$raw" 'BEGIN { print s / r }')")
		trimmed+=("$(awk -v s="$scrape" -v r="$trim" 'BEGIN { print s / r }')")
	done
	report+=("$(printf '%-22s Scrape÷RawCRI %s   Scrape÷RawCRITrimmed %s' "$size" "$(summary "${full[@]}")" "$(summary "${trimmed[@]}")")")
done
{
	echo "Scrape against its floors, CPU per op, median (range) of $ROUNDS back-to-back rounds ($(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average $(cut -d' ' -f1-3 /proc/loadavg))"
	printf '%s\n' "${report[@]}"
} | tee -a "$OUT"
