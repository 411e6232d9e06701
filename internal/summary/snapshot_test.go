package summary

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// countingSource counts its assemblies. When gate is set, each assembly waits
// for a value on it (or for its context to end); errs makes the n-th assembly
// (from 1) fail, and answered says the runtime answered in that failed one
// (another source failed).
type countingSource struct {
	gate     chan struct{}
	errs     map[int]error
	answered map[int]bool

	mu    sync.Mutex
	calls int
}

func (c *countingSource) Get(ctx context.Context) (*Assembly, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	err := c.errs[n]
	answered := err == nil || c.answered[n]
	c.mu.Unlock()
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return &Assembly{Summary: &statsapi.Summary{}}, &SourceError{Source: "test", Err: ctx.Err()}
		}
	}
	return &Assembly{Summary: &statsapi.Summary{Node: statsapi.NodeStats{NodeName: "node-a"}}, RuntimeAnswered: answered}, err
}

func (c *countingSource) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func newTestStore(t *testing.T, src Source, clock *fakeclock.Clock) *Store {
	t.Helper()
	s := NewStore(src, StoreOptions{Now: clock.Now})
	t.Cleanup(s.Close)
	return s
}

func TestStoreGetHonoursMaxAge(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	src := &countingSource{}
	s := newTestStore(t, src, clock)

	steps := []struct {
		name      string
		advance   time.Duration
		maxAge    time.Duration
		wantCalls int
		wantSeq   uint64
	}{
		{"no snapshot yet: assembles", 0, 10 * time.Second, 1, 1},
		{"same moment: reused", 0, 10 * time.Second, 1, 1},
		{"within max age: reused", 10 * time.Second, 10 * time.Second, 1, 1},
		{"past max age: assembles", time.Nanosecond, 10 * time.Second, 2, 2},
		{"max age 0 at the same moment: reused", 0, 0, 2, 2},
		{"max age 0 a moment later: assembles", time.Nanosecond, 0, 3, 3},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		snap, err := s.Get(t.Context(), st.maxAge)
		require.NoError(t, err, st.name)
		assert.Equal(t, st.wantCalls, src.Calls(), st.name)
		assert.Equal(t, st.wantSeq, snap.Seq, st.name)
		assert.Equal(t, "node-a", snap.Assembly.Summary.Node.NodeName, st.name)
	}
	// The snapshot time is the store's clock when the assembly started.
	assert.Equal(t, clock.Now(), s.Latest().Time)
}

func TestStoreSharesOneAssemblyInFlight(t *testing.T) {
	const callers = 32
	clock := fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	src := &countingSource{gate: make(chan struct{})}
	s := newTestStore(t, src, clock)

	var wg sync.WaitGroup
	snaps := make([]*Snapshot, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { snaps[i], errs[i] = s.Get(t.Context(), 0) })
	}
	// Every caller is waiting on the one assembly before it may finish.
	testkit.Until(t, "all callers to join the assembly in flight", 10*time.Second, func() bool { return s.waiting() == callers })
	close(src.gate)
	wg.Wait()

	assert.Equal(t, 1, src.Calls())
	for i := range callers {
		require.NoError(t, errs[i])
		assert.Same(t, snaps[0], snaps[i], "caller %d got another snapshot", i)
	}
}

func TestStoreAssemblyOutlivesCallerThatGivesUp(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	src := &countingSource{gate: make(chan struct{})}
	s := newTestStore(t, src, clock)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Get(ctx, 0)
		done <- err
	}()
	testkit.Until(t, "the caller to wait", 10*time.Second, func() bool { return s.waiting() == 1 })
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "waiting for summary assembly 1")

	// The assembly goes on for whoever comes next.
	next := make(chan *Snapshot, 1)
	go func() {
		snap, err := s.Get(t.Context(), 0)
		assert.NoError(t, err)
		next <- snap
	}()
	testkit.Until(t, "the second caller to join", 10*time.Second, func() bool { return s.waiting() == 2 })
	src.gate <- struct{}{}
	snap := <-next
	require.NoError(t, snap.Err)
	assert.Equal(t, uint64(1), snap.Seq)
	assert.Equal(t, 1, src.Calls())
}

// TestStoreGetInCallerRunsTheAssembly: a caller that starts the assembly with
// GetInCaller does the work itself, so its ctx does not bound it; a caller
// that joins it (Get) may still leave on its own ctx, and the assembly goes on.
func TestStoreGetInCallerRunsTheAssembly(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	src := &countingSource{gate: make(chan struct{})}
	s := newTestStore(t, src, clock)

	// Its ctx has ended before it starts: Get would give up, the runner may not.
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	ran := make(chan *Snapshot, 1)
	go func() {
		snap, err := s.GetInCaller(gone, 0)
		assert.NoError(t, err)
		ran <- snap
	}()
	testkit.Until(t, "the runner to start the assembly", 10*time.Second, func() bool { return src.Calls() == 1 })

	// A joiner whose ctx ends leaves without ending the assembly.
	joinCtx, leave := context.WithCancel(t.Context())
	left := make(chan error, 1)
	go func() {
		_, err := s.Get(joinCtx, 0)
		left <- err
	}()
	testkit.Until(t, "the joiner to wait", 10*time.Second, func() bool { return s.waiting() == 2 })
	leave()
	require.ErrorIs(t, <-left, context.Canceled)

	// A joiner that stays gets the runner's assembly.
	joined := make(chan *Snapshot, 1)
	go func() {
		snap, err := s.Get(t.Context(), 0)
		assert.NoError(t, err)
		joined <- snap
	}()
	testkit.Until(t, "the second joiner to wait", 10*time.Second, func() bool { return s.waiting() == 3 })
	src.gate <- struct{}{}
	snap := <-ran
	require.NoError(t, snap.Err)
	assert.Equal(t, uint64(1), snap.Seq)
	assert.Same(t, snap, <-joined)
	assert.Same(t, snap, s.Latest())
	assert.Equal(t, 1, src.Calls())

	// A fresh one is reused, as by Get.
	again, err := s.GetInCaller(gone, time.Second)
	require.NoError(t, err)
	assert.Same(t, snap, again)
	assert.Equal(t, 1, src.Calls())
}

// TestStoreGetInCallerJoinsAssemblyInFlight: with an assembly in flight,
// GetInCaller waits for it like Get (one assembly) and may leave on its ctx.
func TestStoreGetInCallerJoinsAssemblyInFlight(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	src := &countingSource{gate: make(chan struct{})}
	s := newTestStore(t, src, clock)

	first := make(chan *Snapshot, 1)
	go func() {
		snap, err := s.Get(t.Context(), 0)
		assert.NoError(t, err)
		first <- snap
	}()
	testkit.Until(t, "the first caller to wait", 10*time.Second, func() bool { return s.waiting() == 1 })

	ctx, cancel := context.WithCancel(t.Context())
	left := make(chan error, 1)
	go func() {
		_, err := s.GetInCaller(ctx, 0)
		left <- err
	}()
	testkit.Until(t, "GetInCaller to join", 10*time.Second, func() bool { return s.waiting() == 2 })
	cancel()
	err := <-left
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "waiting for summary assembly 1")

	src.gate <- struct{}{}
	snap := <-first
	require.NoError(t, snap.Err)
	assert.Equal(t, 1, src.Calls(), "GetInCaller joined, it did not start a second assembly")
}

// TestStoreContextEndsAssemblyInCaller: the store's Context ends an assembly a
// caller runs, without Close (the receiver's Shutdown, before the scraper
// controller waits for its scrape); the store still answers afterwards.
func TestStoreContextEndsAssemblyInCaller(t *testing.T) {
	parent, stop := context.WithCancel(t.Context())
	src := &countingSource{gate: make(chan struct{})} // never opened
	s := NewStore(src, StoreOptions{Context: parent})
	t.Cleanup(s.Close)

	got := make(chan *Snapshot, 1)
	go func() {
		snap, err := s.GetInCaller(t.Context(), 0)
		assert.NoError(t, err)
		got <- snap
	}()
	testkit.Until(t, "the assembly to start", 10*time.Second, func() bool { return src.Calls() == 1 })
	stop()
	select {
	case snap := <-got:
		assert.ErrorIs(t, snap.Err, context.Canceled)
		assert.Same(t, snap, s.Latest())
	case <-time.After(10 * time.Second):
		t.Fatal("the store's Context ended, the assembly did not")
	}
}

// TestStoreKeepsLastUsableSnapshot: the store remembers the newest assembly
// with the runtime's stats, complete or partial; one where the runtime failed
// does not replace it.
func TestStoreKeepsLastUsableSnapshot(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	boom := &SourceError{Source: "cri", Err: errors.New("boom")}
	cgroups := &SourceError{Source: "cadvisor", Err: errors.New("no cgroup")}
	src := &countingSource{
		errs:     map[int]error{2: boom, 3: cgroups, 4: boom},
		answered: map[int]bool{3: true},
	}
	s := newTestStore(t, src, clock)

	assert.Nil(t, s.Latest())
	assert.Nil(t, s.LastUsable())

	steps := []struct {
		name       string
		wantLatest uint64
		wantUsable uint64
		wantErr    error
	}{
		{"complete", 1, 1, nil},
		{"runtime failed: the last usable kept", 2, 1, boom},
		{"cgroups failed: the partial one is usable", 3, 3, cgroups},
		{"runtime failed again: the partial one kept", 4, 3, boom},
		{"recovered", 5, 5, nil},
	}
	for _, st := range steps {
		clock.Advance(time.Second)
		snap, err := s.Get(t.Context(), 0)
		require.NoError(t, err, st.name)
		assert.Equal(t, st.wantLatest, snap.Seq, st.name)
		assert.Same(t, snap, s.Latest(), st.name)
		assert.Equal(t, st.wantUsable, s.LastUsable().Seq, st.name)
		if st.wantErr != nil {
			assert.ErrorIs(t, snap.Err, st.wantErr, st.name)
		} else {
			assert.NoError(t, snap.Err, st.name)
		}
	}
}

// misbehavingSource answers with whatever its function returns.
type misbehavingSource func() (*Assembly, error)

func (m misbehavingSource) Get(context.Context) (*Assembly, error) { return m() }

func TestStoreSurvivesMisbehavingSource(t *testing.T) {
	tests := []struct {
		name    string
		src     misbehavingSource
		wantErr string
	}{
		{"no assembly", func() (*Assembly, error) { return nil, nil }, "summary source returned no assembly"},
		{"no summary", func() (*Assembly, error) { return &Assembly{}, nil }, "summary source returned an assembly without a summary"},
		{"panic", func() (*Assembly, error) { panic("kaboom") }, "summary assembly panicked: kaboom"},
		{"nil assembly with its own error", func() (*Assembly, error) { return nil, errors.New("down") }, "down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, inCaller := range []bool{false, true} {
				s := newTestStore(t, tt.src, fakeclock.New(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)))
				get, name := s.Get, "Get"
				if inCaller {
					get, name = s.GetInCaller, "GetInCaller"
				}
				snap, err := get(t.Context(), 0)
				require.NoError(t, err, name)
				require.EqualError(t, snap.Err, tt.wantErr, name)
				require.NotNil(t, snap.Assembly, name)
				require.NotNil(t, snap.Assembly.Summary, name)
				assert.Nil(t, s.LastUsable(), name)
			}
		})
	}
}

func TestStoreCloseEndsAssemblyInFlight(t *testing.T) {
	src := &countingSource{gate: make(chan struct{})} // never opened
	s := NewStore(src, StoreOptions{})

	got := make(chan *Snapshot, 1)
	go func() {
		snap, err := s.Get(t.Context(), 0)
		assert.NoError(t, err)
		got <- snap
	}()
	testkit.Until(t, "the caller to wait", 10*time.Second, func() bool { return s.waiting() == 1 })
	s.Close()
	snap := <-got
	assert.ErrorIs(t, snap.Err, context.Canceled)

	_, err := s.Get(t.Context(), time.Hour)
	assert.ErrorIs(t, err, ErrStoreClosed)
	assert.Same(t, snap, s.Latest(), "Latest still answers after Close")
	s.Close() // twice is fine
}

func TestStoreTimeoutBoundsAssembly(t *testing.T) {
	src := &countingSource{gate: make(chan struct{})} // never opened
	s := NewStore(src, StoreOptions{Timeout: 20 * time.Millisecond})
	t.Cleanup(s.Close)

	snap, err := s.Get(t.Context(), 0)
	require.NoError(t, err)
	assert.ErrorIs(t, snap.Err, context.DeadlineExceeded)
}
