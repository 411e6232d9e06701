package summary

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Source assembles one Summary. *Assembler is the Source of the receiver.
type Source interface {
	Get(ctx context.Context) (*Assembly, error)
}

// Snapshot is one assembly kept by a Store. It is shared by every reader and
// never changes once published: readers must not modify it or its Assembly.
type Snapshot struct {
	// Seq numbers the store's assemblies from 1, in the order they started.
	Seq uint64
	// Time is when the assembly started, by the store's clock.
	Time time.Time
	// Assembly is what the sources gave; never nil, and its Summary never nil.
	Assembly *Assembly
	// Err joins the failures of this assembly (a *SourceError per failed
	// source); nil for a complete one.
	Err error
}

// HasRuntimeStats tells whether the snapshot holds the runtime's pod and
// container stats: it is complete, or only sources other than the runtime's
// pod stats failed (a partial Summary worth serving).
func (s *Snapshot) HasRuntimeStats() bool {
	return s.Err == nil || s.Assembly.RuntimeAnswered
}

// ErrStoreClosed is returned by Store.Get after Close.
var ErrStoreClosed = errors.New("summary store closed")

// StoreOptions configure a Store.
type StoreOptions struct {
	// Now is the store's clock; time.Now when nil.
	Now func() time.Time
	// Timeout bounds one assembly. An assembly is shared by the callers that
	// wait for it, so a caller that gives up does not cancel it for the
	// others; Timeout, Context and Close are what end it. 0 means no bound
	// but those.
	Timeout time.Duration
	// Context, when not nil, ends every assembly when it ends, as Close does,
	// but without waiting: the receiver's Shutdown ends it first, so that a
	// scrape running an assembly (GetInCaller) returns before the scraper
	// controller, which waits for its scrapes, stops.
	Context context.Context
}

// Store keeps the latest assembly of a Source and makes new ones on demand,
// one at a time: every caller that needs a fresh Summary while an assembly is
// in flight shares that assembly (single flight). It remembers apart the
// newest assembly that has the runtime's stats (complete or partial), so that
// one without them never leaves readers with nothing when an older one with
// them exists.
type Store struct {
	src     Source
	now     func() time.Time
	timeout time.Duration

	ctx    context.Context // parent of every assembly; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the assembly in flight, on its goroutine or a caller's

	mu     sync.Mutex
	closed bool
	seq    uint64
	latest *Snapshot // newest finished assembly, complete or not
	usable *Snapshot // newest finished assembly with the runtime's stats
	flight *flight   // the assembly in progress, if any
}

// flight is an assembly in progress; done is closed once snap is set.
type flight struct {
	seq     uint64
	start   time.Time
	done    chan struct{}
	snap    *Snapshot
	waiters int // callers that waited for it (tests observe joins through it)
}

// NewStore returns an empty Store over src. Close it to end an assembly in
// flight.
func NewStore(src Source, opts StoreOptions) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	parent := opts.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	return &Store{src: src, now: opts.Now, timeout: opts.Timeout, ctx: ctx, cancel: cancel}
}

// Get returns the newest snapshot when it started no more than maxAge ago by
// the store's clock. Otherwise it waits for a new assembly (the one in flight,
// or one it starts) and returns that, whether complete or not: check
// Snapshot.Err. The error is not nil only when ctx ends before the assembly or
// the store is closed.
//
// maxAge 0 asks for an assembly of this very moment: one started at the same
// clock reading is reused, and one in flight is joined rather than duplicated.
func (s *Store) Get(ctx context.Context, maxAge time.Duration) (*Snapshot, error) {
	return s.get(ctx, maxAge, false)
}

// GetInCaller is Get for a caller that would rather do the work than wait for
// it: when it must start an assembly, it runs it on its own goroutine and
// returns when that assembly ends, which Timeout, Context and Close bound but
// ctx does not (the assembly is shared, so the caller's ctx never cancels it). Joining
// an assembly in flight, it waits like Get and may leave when ctx ends.
//
// It is the scraper's: its deadline is later than the store's Timeout, so it
// would wait for the assembly anyway, and running it here spares each scrape
// a goroutine and two hand-offs between threads (docs/performance.md).
func (s *Store) GetInCaller(ctx context.Context, maxAge time.Duration) (*Snapshot, error) {
	return s.get(ctx, maxAge, true)
}

func (s *Store) get(ctx context.Context, maxAge time.Duration, inCaller bool) (*Snapshot, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrStoreClosed
	}
	if l := s.latest; l != nil && s.now().Sub(l.Time) <= maxAge {
		s.mu.Unlock()
		return l, nil
	}
	f := s.flight
	started := f == nil
	if started {
		f = s.startLocked()
	}
	f.waiters++
	s.mu.Unlock()

	switch {
	case started && inCaller:
		s.run(f)
		return f.snap, nil
	case started:
		go s.run(f)
	}
	select {
	case <-f.done:
		return f.snap, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for summary assembly %d: %w", f.seq, context.Cause(ctx))
	}
}

// Latest returns the newest finished assembly, complete or not; nil before the
// first one ends.
func (s *Store) Latest() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

// LastUsable returns the newest finished assembly that has the runtime's
// stats (see Snapshot.HasRuntimeStats), complete or partial; nil when there
// has been none.
func (s *Store) LastUsable() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usable
}

// waiting returns how many callers have waited for the assembly in flight; 0
// when there is none.
func (s *Store) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight == nil {
		return 0
	}
	return s.flight.waiters
}

// Close cancels an assembly in flight and waits for it to end. Get fails with
// ErrStoreClosed afterwards; Latest and LastUsable keep answering. Close is safe
// to call more than once.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

func (s *Store) startLocked() *flight {
	s.seq++
	f := &flight{seq: s.seq, start: s.now(), done: make(chan struct{})}
	s.flight = f
	s.wg.Add(1) // done by run, which the caller starts
	return f
}

func (s *Store) run(f *flight) {
	defer s.wg.Done()
	ctx := s.ctx
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	a, err := s.assemble(ctx)
	snap := &Snapshot{Seq: f.seq, Time: f.start, Assembly: a, Err: err}

	s.mu.Lock()
	s.latest = snap
	if snap.HasRuntimeStats() {
		s.usable = snap
	}
	s.flight = nil
	s.mu.Unlock()

	f.snap = snap
	close(f.done)
}

// assemble calls the source and makes sure a Snapshot always holds a Summary:
// a source that returns none, or panics, yields an empty one with an error.
func (s *Store) assemble(ctx context.Context) (a *Assembly, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, fmt.Errorf("summary assembly panicked: %v", p)
		}
		if a == nil {
			a = &Assembly{Summary: &statsapi.Summary{Pods: []statsapi.PodStats{}}}
			if err == nil {
				err = errors.New("summary source returned no assembly")
			}
		}
		if a.Summary == nil {
			a.Summary = &statsapi.Summary{Pods: []statsapi.PodStats{}}
			if err == nil {
				err = errors.New("summary source returned an assembly without a summary")
			}
		}
	}()
	return s.src.Get(ctx)
}
