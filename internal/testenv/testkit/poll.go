package testkit

import (
	"testing"
	"time"
)

// Until polls cond until it holds, and fails the test when it still does not
// after d, or when the test's context ends first. It sleeps between polls
// (d/200, between 1 and 50 ms), never asserts on how long it took.
func Until(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	UntilReport(t, what, d, cond, nil)
}

// UntilReport is Until whose timeout message ends with report(), what the
// test can tell of why cond never held (a container's log, counters); report
// may be nil.
func UntilReport(t testing.TB, what string, d time.Duration, cond func() bool, report func() string) {
	t.Helper()
	step := min(max(d/200, time.Millisecond), 50*time.Millisecond)
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			if report != nil {
				t.Fatalf("timed out after %s waiting for %s; %s", d, what, report())
			}
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting for %s", what)
		case <-time.After(step):
		}
	}
}
