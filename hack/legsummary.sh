#!/usr/bin/env bash
# Filters `go test -v` output for a CI leg: passes through everything, then
# prints each top-level test's result and the count of passed, failed and
# skipped tests, so that the leg's log says plainly what ran. A skipped test
# fails the leg (the suites never skip: a skip would be a leg passed off as
# green). Exits with go test's status (pipefail) or 1 on a skip.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tee "$log"
pass=$(grep -c -- '^--- PASS' "$log")
fail=$(grep -c -- '^--- FAIL' "$log")
skip=$(grep -c -- '--- SKIP' "$log")
echo "== leg result: $pass passed, $fail failed, $skip skipped (top level; subtests are indented) in ${SECONDS} s with compilation"
grep -E -- '^--- (PASS|FAIL|SKIP)' "$log" || true
if ((skip > 0)); then
  echo "== a test was skipped: the leg does not count as green" >&2
  exit 1
fi
if ((fail > 0)) || ! grep -qE '^(ok|PASS)' "$log"; then
  exit 1
fi
