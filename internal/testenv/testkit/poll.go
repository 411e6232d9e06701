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
	step := min(max(d/200, time.Millisecond), 50*time.Millisecond)
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting for %s", what)
		case <-time.After(step):
		}
	}
}
