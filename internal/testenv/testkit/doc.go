// Package testkit holds what the tests of several packages share: polling a
// condition against a deadline (poll.go), pointer and CRI wrapper values
// (values.go), the one flag that rewrites golden files (golden.go), walking the
// data points of pdata metrics (points.go) and a benchmark's CPU time per
// operation (cpu.go). It is imported by tests only.
package testkit
