package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/statssummary/statssummary/internal/benchnode"
	"github.com/statssummary/statssummary/internal/server"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// BenchmarkSummaryJSON serves a synthetic node's Summary over loopback HTTP,
// one request at a time on a keep-alive connection, the body read whole:
// handler=snapshot is the Summary handler serving a cached snapshot (encoded
// once, before the timer starts), handler=static replays the header fields
// and body it sent and does nothing else (the floor). Throughput is 1/(ns/op); MB/s is the body.
func BenchmarkSummaryJSON(b *testing.B) {
	for _, n := range benchnode.Sizes {
		b.Run(benchnode.SizeName(n), func(b *testing.B) {
			a, err := benchnode.Assemble(b.Context(), n)
			if err != nil {
				b.Fatal(err)
			}
			store, err := benchnode.Store(b.Context(), a)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(store.Close)
			h, err := server.NewHandler(server.Options{Store: store, MaxAge: 24 * time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			for _, enc := range []struct {
				name    string
				gzipped bool
			}{{"identity", false}, {"gzip", true}} {
				static, err := benchnode.NewStatic(h, enc.gzipped) // encodes the snapshot once
				if err != nil {
					b.Fatal(err)
				}
				for _, hd := range []struct {
					name string
					h    http.Handler
				}{{"snapshot", h}, {"static", static}} {
					b.Run("encoding="+enc.name+"/handler="+hd.name, func(b *testing.B) {
						benchmarkServe(b, hd.h, enc.gzipped, len(static.Body))
					})
				}
			}
		})
	}
}

func benchmarkServe(b *testing.B, h http.Handler, gzipped bool, size int) {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	url := srv.URL + server.SummaryPath
	b.SetBytes(int64(size))
	b.ReportAllocs()
	report := testkit.CPUPerOp(b)
	for b.Loop() {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url, http.NoBody)
		if err != nil {
			b.Fatal(err)
		}
		if gzipped {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n != int64(size) {
			b.Fatalf("status %d, %d of %d bytes, err %v", resp.StatusCode, n, size, err)
		}
	}
	report()
}

// discardWriter is a ResponseWriter that keeps nothing but its header map.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkSummaryHandler is the handler's own work per request, without HTTP:
// ServeHTTP into a writer that discards the body. handler=static is the floor.
func BenchmarkSummaryHandler(b *testing.B) {
	n := benchnode.Sizes[3] // 110 pods × 3 containers: the body's size does not matter here
	a, err := benchnode.Assemble(b.Context(), n)
	if err != nil {
		b.Fatal(err)
	}
	store, err := benchnode.Store(b.Context(), a)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	h, err := server.NewHandler(server.Options{Store: store, MaxAge: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	for _, enc := range []struct {
		name    string
		gzipped bool
	}{{"identity", false}, {"gzip", true}} {
		static, err := benchnode.NewStatic(h, enc.gzipped)
		if err != nil {
			b.Fatal(err)
		}
		for _, hd := range []struct {
			name string
			h    http.Handler
		}{{"snapshot", h}, {"static", static}} {
			b.Run("encoding="+enc.name+"/handler="+hd.name, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, server.SummaryPath, http.NoBody)
				if enc.gzipped {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					hd.h.ServeHTTP(w, req)
				}
			})
		}
	}
}
