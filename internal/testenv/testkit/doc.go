// Package testkit holds what the tests of several packages share: polling a
// condition against a deadline (poll.go), pointer and CRI wrapper values
// (values.go), the one flag that rewrites golden files (golden.go) and walking
// the data points of pdata metrics (points.go). It is imported by tests only.
package testkit
