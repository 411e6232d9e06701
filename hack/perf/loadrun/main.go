// Command loadrun is the bounded loopback load run of the JSON endpoint: it
// serves a synthetic node's Summary from the Summary handler (a cached
// snapshot) and the same header fields and bytes from a static handler (the
// floor), each
// on its own 127.0.0.1 listener, and sends each a fixed number of requests from
// a fixed number of concurrent clients, alternating the handlers round by
// round. It prints requests/s and p50/p99 latency per run as a Markdown table,
// then the ratio of the median throughputs. `make bench-load` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/statssummary/statssummary/internal/benchnode"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/server"
)

func main() {
	var (
		n       crifake.SyntheticNode
		opts    benchnode.LoadOptions
		rounds  int
		timeout time.Duration
	)
	flag.IntVar(&n.Pods, "pods", 110, "pods on the synthetic node")
	flag.IntVar(&n.ContainersPerPod, "containers", 3, "containers per pod")
	flag.IntVar(&opts.Clients, "clients", 64, "concurrent clients")
	flag.IntVar(&opts.Requests, "requests", 6400, "requests per run")
	flag.BoolVar(&opts.Gzip, "gzip", false, "ask for gzipped bodies")
	flag.IntVar(&rounds, "rounds", 5, "runs per handler, alternating")
	flag.DurationVar(&opts.Timeout, "run-timeout", 2*time.Minute, "bound of one run")
	flag.DurationVar(&timeout, "timeout", 10*time.Minute, "bound of the whole load run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := run(ctx, n, opts, rounds)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n crifake.SyntheticNode, opts benchnode.LoadOptions, rounds int) error {
	a, err := benchnode.Assemble(ctx, n)
	if err != nil {
		return err
	}
	store, err := benchnode.Store(ctx, a)
	if err != nil {
		return err
	}
	defer store.Close()
	h, err := server.NewHandler(server.Options{Store: store, MaxAge: 24 * time.Hour})
	if err != nil {
		return err
	}
	static, err := benchnode.NewStatic(h, opts.Gzip)
	if err != nil {
		return err
	}
	body := static.Body
	handlers := []struct {
		name string
		h    http.Handler
	}{{"snapshot", h}, {"static", static}}
	urls := make([]string, len(handlers))
	for i, hd := range handlers {
		url, stop, err := serve(hd.h)
		if err != nil {
			return err
		}
		defer stop()
		urls[i] = url + server.SummaryPath
	}

	// Warm up both: connections, TCP windows and the heap grow before the
	// first measured run, which would otherwise pay for them alone.
	for i := range handlers {
		o := opts
		o.URL, o.Requests = urls[i], min(opts.Requests, 4*opts.Clients)
		if _, err := benchnode.Load(ctx, o); err != nil {
			return fmt.Errorf("%s warm-up: %w", handlers[i].name, err)
		}
	}
	fmt.Printf("Load run: %s, body %d bytes (gzip=%t), %d clients, %d requests per run, loopback, after a warm-up of each\n\n",
		benchnode.SizeName(n), len(body), opts.Gzip, opts.Clients, opts.Requests)
	fmt.Println("| handler | round | req/s | MB/s | p50 | p99 | max |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	perSecond := make([][]float64, len(handlers))
	for r := range rounds {
		for k := range handlers {
			i := (k + r) % len(handlers) // alternate who goes first
			o := opts
			o.URL = urls[i]
			res, err := benchnode.Load(ctx, o)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", handlers[i].name, r+1, err)
			}
			perSecond[i] = append(perSecond[i], res.PerSecond())
			fmt.Printf("| %s | %d | %.0f | %.1f | %s | %s | %s |\n", handlers[i].name, r+1, res.PerSecond(),
				float64(res.Bytes)/res.Elapsed.Seconds()/1e6, ms(res.P50), ms(res.P99), ms(res.Max))
		}
	}
	snapRate, staticRate := median(perSecond[0]), median(perSecond[1])
	fmt.Printf("\nmedian req/s: snapshot %.0f, static %.0f; snapshot/static = %.2f\n", snapRate, staticRate, snapRate/staticRate)
	return nil
}

// serve runs h on a new 127.0.0.1 listener.
func serve(h http.Handler) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "loadrun: serve:", err)
		}
	}()
	stop := func() {
		_ = srv.Close()
		<-done
	}
	return "http://" + lis.Addr().String(), stop, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
