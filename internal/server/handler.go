package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statssummary/statssummary/internal/summary"
)

// Paths served by the Handler.
const (
	SummaryPath = "/stats/summary"
	HealthzPath = "/healthz"
)

// OnlyCPUAndMemoryParam is the kubelet's query (or form) parameter that asks
// for the reduced Summary.
const OnlyCPUAndMemoryParam = "only_cpu_and_memory"

// Response headers that say how old the served data is and why it may be older
// than asked. Age (RFC 9111) carries the whole seconds since the served
// snapshot's assembly started.
const (
	// HeaderSummaryTime is when the served snapshot's assembly started, in
	// RFC 3339 with nanoseconds.
	HeaderSummaryTime = "Stats-Summary-Time"
	// HeaderRefreshError is set when the newest assembly has no runtime
	// stats (the runtime failed) and an older snapshot that has them is
	// served instead; it holds that failure.
	HeaderRefreshError = "Stats-Summary-Refresh-Error"
	// HeaderPartial is set when the served snapshot is partial: it names the
	// sources that failed in its assembly ("cadvisor, host"), whose parts of
	// the Summary are missing.
	HeaderPartial = "Stats-Summary-Partial"
	// HeaderStatsPath says how the runtime answered for the served snapshot:
	// "strict" (ListPodSandboxStats), "partial" (ListContainerStats) or
	// "identity" (identity alone: pods' and containers' CPU and memory from
	// their cgroups, writable layers from the last stats answer).
	HeaderStatsPath = "Stats-Summary-Stats-Path"
)

// Bounds on how old served data may be.
const (
	// DefaultStaleFactor times Options.MaxAge is Options.StaleAfter when
	// that is zero.
	DefaultStaleFactor = 3
	// DefaultStaleAfter is Options.StaleAfter when both it and MaxAge are
	// zero.
	DefaultStaleAfter = 30 * time.Second
)

// Options configure a Handler.
type Options struct {
	// Store holds the snapshots to serve. Required.
	Store *summary.Store
	// MaxAge is how old a snapshot may be before a request asks the store for
	// a fresh one. 0 makes every request share the assembly in flight or
	// start one.
	MaxAge time.Duration
	// StaleAfter bounds the age of served data: a request that finds the
	// newest snapshot with the runtime's stats older than this (the runtime
	// has failed since) is answered 503. Zero means DefaultStaleFactor ×
	// MaxAge, or DefaultStaleAfter when MaxAge is zero too.
	StaleAfter time.Duration
	// Now is the clock the ages are told by; it must be the store's clock.
	// time.Now when nil.
	Now func() time.Time
}

// Handler serves the Summary JSON API. It is safe for concurrent use.
type Handler struct {
	store      *summary.Store
	maxAge     time.Duration
	staleAfter time.Duration
	now        func() time.Time

	mu    sync.Mutex
	cache *encodings // the encodings of the newest snapshot served

	encodes atomic.Int64 // JSON encodings made (tests check there is one per snapshot and form)
}

// NewHandler returns a Handler over opts.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("server: a summary store is required")
	}
	if opts.MaxAge < 0 {
		return nil, fmt.Errorf("server: max age must not be negative, got %s", opts.MaxAge)
	}
	if opts.StaleAfter < 0 {
		return nil, fmt.Errorf("server: stale-after bound must not be negative, got %s", opts.StaleAfter)
	}
	if opts.StaleAfter == 0 {
		opts.StaleAfter = DefaultStaleFactor * opts.MaxAge
		if opts.MaxAge == 0 {
			opts.StaleAfter = DefaultStaleAfter
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{store: opts.Store, maxAge: opts.MaxAge, staleAfter: opts.StaleAfter, now: opts.Now}, nil
}

// ServeHTTP routes to the summary and health endpoints; any other path is a
// JSON 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case SummaryPath:
		h.serveSummary(w, r)
	case HealthzPath:
		serveHealthz(w, r)
	default:
		WriteError(w, r, fmt.Sprintf("no such path %q: this server serves %s and %s", r.URL.Path, SummaryPath, HealthzPath), http.StatusNotFound)
	}
}

func (h *Handler) serveSummary(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		WriteError(w, r, fmt.Sprintf("method %s not allowed on %s: use GET or POST", r.Method, SummaryPath), http.StatusMethodNotAllowed)
		return
	}
	onlyCPUAndMemory, err := parseSummaryRequest(r)
	if err != nil {
		WriteError(w, r, err.Error(), http.StatusBadRequest)
		return
	}

	// Before the first assembly has finished there is nothing to serve; the
	// receiver's first scrape makes it (requests do not race it to the runtime).
	if h.store.Latest() == nil {
		unavailable(w, r, "no summary yet: the first assembly has not finished", time.Second)
		return
	}
	snap, err := h.store.Get(r.Context(), h.maxAge)
	if err != nil {
		unavailable(w, r, err.Error(), time.Second)
		return
	}
	// Serve the newest snapshot that has the runtime's stats, partial or
	// not; an older one only while the runtime fails, and not beyond the
	// stale bound.
	serve := snap
	if !snap.HasRuntimeStats() {
		serve = h.store.LastUsable()
		if serve == nil {
			// Never any runtime stats: say why, and when the next
			// request may assemble again.
			retry := snap.Time.Add(h.maxAge).Sub(h.now())
			unavailable(w, r, "summary assembly failed: "+oneLine(snap.Err.Error()), retry)
			return
		}
		w.Header().Set(HeaderRefreshError, oneLine(snap.Err.Error()))
	}
	if age := h.now().Sub(serve.Time); age > h.staleAfter {
		msg := fmt.Sprintf("the newest summary with the runtime's stats started %s ago, beyond the %s bound", age.Truncate(time.Second), h.staleAfter)
		if snap.Err != nil {
			msg += "; the newest assembly failed: " + snap.Err.Error()
		}
		unavailable(w, r, msg, snap.Time.Add(h.maxAge).Sub(h.now()))
		return
	}
	if serve.Err != nil {
		w.Header().Set(HeaderPartial, strings.Join(summary.FailedSources(serve.Err), ", "))
	}

	gzipped := acceptsGzip(r.Header.Values("Accept-Encoding"))
	body, err := h.encodingsOf(serve).body(h, onlyCPUAndMemory, gzipped)
	if err != nil {
		WriteError(w, r, "encoding the summary: "+err.Error(), http.StatusInternalServerError)
		return
	}

	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Vary", "Accept-Encoding")
	hdr.Set("Age", strconv.FormatInt(wholeSeconds(h.now().Sub(serve.Time)), 10))
	hdr.Set(HeaderSummaryTime, serve.Time.UTC().Format(time.RFC3339Nano))
	if p := serve.Assembly.StatsPath; p != "" {
		hdr.Set(HeaderStatsPath, string(p))
	}
	if gzipped {
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a client gone mid-body is not ours to report
}

// parseSummaryRequest reads only_cpu_and_memory from the query string and, for
// a form POST, the body. The kubelet reads the same parameter the same way; it
// quietly treats anything but "true" as false, where this server answers 400
// to a value that is neither "true" nor "false", or to a repeated one.
func parseSummaryRequest(r *http.Request) (onlyCPUAndMemory bool, err error) {
	if err := r.ParseForm(); err != nil {
		return false, fmt.Errorf("malformed query or form: %w", err)
	}
	values, ok := r.Form[OnlyCPUAndMemoryParam]
	if !ok {
		return false, nil
	}
	if len(values) != 1 {
		return false, fmt.Errorf("%s given %d times: give it once", OnlyCPUAndMemoryParam, len(values))
	}
	switch values[0] {
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, fmt.Errorf("%s must be true or false, got %q", OnlyCPUAndMemoryParam, values[0])
	}
}

func serveHealthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		WriteError(w, r, fmt.Sprintf("method %s not allowed on %s: use GET or HEAD", r.Method, HealthzPath), http.StatusMethodNotAllowed)
		return
	}
	body := []byte(`{"status":"ok"}`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// unavailable answers 503 with a Retry-After of at least one second.
func unavailable(w http.ResponseWriter, r *http.Request, msg string, retryAfter time.Duration) {
	secs := int64(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	WriteError(w, r, msg, http.StatusServiceUnavailable)
}

// acceptsGzip tells whether Accept-Encoding values admit gzip: listed with a
// non-zero quality, or not listed while "*" is.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil {
						f = 0 // an unreadable quality admits nothing
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "*":
				starQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// oneLine makes an error message fit a header and a one-line JSON message:
// joined errors are separated by "; " and control characters dropped.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func wholeSeconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d / time.Second)
}
