package benchnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions bound a load run: a fixed number of requests shared by a fixed
// number of concurrent clients, within a deadline.
type LoadOptions struct {
	// URL is fetched with GET by every request.
	URL string
	// Clients is the number of concurrent clients (each with its own
	// keep-alive connection).
	Clients int
	// Requests is the total number of requests made.
	Requests int
	// Gzip asks for a gzipped body (the client does not decompress it).
	Gzip bool
	// Timeout ends the run early, with an error, if it takes longer.
	Timeout time.Duration
}

// LoadResult is what a load run measured.
type LoadResult struct {
	Requests int
	Bytes    int64 // body bytes read
	Elapsed  time.Duration
	// P50, P99 and Max are request latencies (headers and whole body read).
	P50, P99, Max time.Duration
}

// PerSecond is the throughput in requests per second.
func (r LoadResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Load runs opts.Requests GET requests to opts.URL from opts.Clients
// concurrent clients and measures them. Any request that fails or answers
// other than 200 ends the run with an error.
func Load(ctx context.Context, opts LoadOptions) (LoadResult, error) {
	if opts.Clients <= 0 || opts.Requests <= 0 || opts.Timeout <= 0 {
		return LoadResult{}, errors.New("benchnode: load run needs clients, requests and a timeout")
	}
	errTimeout := fmt.Errorf("load run exceeded %s", opts.Timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errTimeout)
	defer cancel()
	tr := &http.Transport{
		MaxIdleConns:        opts.Clients,
		MaxIdleConnsPerHost: opts.Clients,
		DisableCompression:  true, // the body is read as sent
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	latencies := make([]time.Duration, opts.Requests)
	var (
		next  atomic.Int64
		bytes atomic.Int64
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel() })
	}
	start := time.Now()
	for range opts.Clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= opts.Requests || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				n, err := fetch(ctx, client, opts.URL, opts.Gzip)
				if err != nil {
					fail(err)
					return
				}
				latencies[i] = time.Since(t0)
				bytes.Add(n)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errTimeout):
		return LoadResult{}, fmt.Errorf("benchnode: %w", errTimeout)
	case first != nil:
		return LoadResult{}, fmt.Errorf("benchnode: %w", first)
	case cause != nil:
		return LoadResult{}, fmt.Errorf("benchnode: load run: %w", cause)
	}
	slices.Sort(latencies)
	return LoadResult{
		Requests: opts.Requests,
		Bytes:    bytes.Load(),
		Elapsed:  elapsed,
		P50:      percentile(latencies, 50),
		P99:      percentile(latencies, 99),
		Max:      latencies[len(latencies)-1],
	}, nil
}

func fetch(ctx context.Context, client *http.Client, url string, gzipped bool) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, err
	}
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return n, nil
}

// percentile is the nearest-rank p-th percentile of sorted (not empty).
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (len(sorted)*p + 99) / 100 // ceil(p/100 · n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
