package statssummaryreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/server"
)

// abuseServer starts the scraper with its JSON endpoint on loopback (default
// server settings but for the given header and idle timeouts), scrapes once,
// and returns the scraper, its address and the runtime.
func abuseServer(t *testing.T, headerTimeout, idleTimeout time.Duration) (*statsScraper, string, *crifake.Server) {
	t.Helper()
	cri := newCRI(t)
	cfg := newTestConfig(cri.Endpoint)
	cfg.Server = serverConfig(t, "127.0.0.1:0", 0)
	sc := cfg.Server.Get()
	sc.ReadHeaderTimeout = headerTimeout
	sc.Keepalive.Get().IdleTimeout = idleTimeout
	s := startScraper(t, cfg, componenttest.NewNopHost(), nil)
	_, err := s.scrape(t.Context())
	require.NoError(t, err)
	return s, s.server.addr.String(), cri
}

// rawExchange writes req on a fresh connection and reads one response,
// returning its status code. It fails the test when the server neither
// answers nor closes within the deadline.
func rawExchange(t *testing.T, addr string, req []byte) int {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(waitFor)))
	_, err = conn.Write(req)
	if err != nil {
		// The server may answer and close before the whole request is
		// written (an oversized header): read what it said.
		require.True(t, errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"), "write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server answers malformed requests")
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestServerAbuse sends what a hostile or broken client might, over the real
// confighttp server, and checks each answer. The endpoint keeps serving
// afterwards.
func TestServerAbuse(t *testing.T) {
	_, addr, _ := abuseServer(t, 10*time.Second, time.Minute)
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)

	gzipBomb := func() []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte("only_cpu_and_memory=true&pad="))
		zeros := make([]byte, 1<<20)
		for range 64 { // 64 MiB of zeros: three times confighttp's body limit
			_, _ = zw.Write(zeros)
		}
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}()

	tests := []struct {
		name      string
		method    string
		target    string
		header    http.Header
		body      []byte
		wantCode  int
		wantInMsg string // in the JSON error message, when the handler answers
		wantAllow string
	}{
		{name: "PUT", method: http.MethodPut, target: server.SummaryPath, wantCode: 405, wantInMsg: "method PUT not allowed", wantAllow: "GET, POST"},
		{name: "PATCH", method: http.MethodPatch, target: server.SummaryPath, wantCode: 405, wantInMsg: "method PATCH not allowed", wantAllow: "GET, POST"},
		{name: "DELETE", method: http.MethodDelete, target: server.SummaryPath, wantCode: 405, wantInMsg: "method DELETE not allowed", wantAllow: "GET, POST"},
		{name: "OPTIONS", method: http.MethodOptions, target: server.SummaryPath, wantCode: 405, wantInMsg: "method OPTIONS not allowed", wantAllow: "GET, POST"},
		{name: "TRACE", method: http.MethodTrace, target: server.SummaryPath, wantCode: 405, wantInMsg: "method TRACE not allowed", wantAllow: "GET, POST"},
		{name: "custom method", method: "BREW", target: server.SummaryPath, wantCode: 405, wantInMsg: "method BREW not allowed", wantAllow: "GET, POST"},
		{name: "DELETE on healthz", method: http.MethodDelete, target: server.HealthzPath, wantCode: 405, wantInMsg: "method DELETE not allowed on /healthz", wantAllow: "GET, HEAD"},
		{name: "bad escape", method: http.MethodGet, target: server.SummaryPath + "?only_cpu_and_memory=%G0", wantCode: 400, wantInMsg: "malformed query or form"},
		{name: "semicolon separator", method: http.MethodGet, target: server.SummaryPath + "?only_cpu_and_memory=true;x=1", wantCode: 400, wantInMsg: "malformed query or form"},
		{name: "repeated parameter", method: http.MethodGet, target: server.SummaryPath + "?only_cpu_and_memory=false&only_cpu_and_memory=true", wantCode: 400, wantInMsg: "given 2 times"},
		{name: "not a boolean", method: http.MethodGet, target: server.SummaryPath + "?only_cpu_and_memory=1", wantCode: 400, wantInMsg: "must be true or false"},
		{
			name: "5 000 unknown parameters are ignored", method: http.MethodGet,
			target:   server.SummaryPath + "?" + strings.Repeat("a=b&", 5_000) + "only_cpu_and_memory=true",
			wantCode: 200,
		},
		{
			name: "100 000 parameters are refused", method: http.MethodGet,
			target:   server.SummaryPath + "?" + strings.Repeat("a=b&", 100_000) + "only_cpu_and_memory=true",
			wantCode: 400, wantInMsg: "number of URL query parameters exceeded limit",
		},
		{
			name: "form body over confighttp's 20 MiB body limit", method: http.MethodPost, target: server.SummaryPath,
			header:   http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body:     append([]byte("only_cpu_and_memory=true&pad="), bytes.Repeat([]byte("x"), 21<<20)...),
			wantCode: 400, wantInMsg: "request body too large",
		},
		{
			name: "gzip bomb as a form body", method: http.MethodPost, target: server.SummaryPath,
			header:   http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Content-Encoding": {"gzip"}},
			body:     gzipBomb,
			wantCode: 400, wantInMsg: "malformed query or form",
		},
		{
			// Like the kubelet, only URL-encoded forms are read: a
			// multipart body (here one that never ends) is not parsed.
			name: "multipart body is not read", method: http.MethodPost, target: server.SummaryPath,
			header:   http.Header{"Content-Type": {"multipart/form-data; boundary=zz"}},
			body:     []byte("--zz\r\nContent-Disposition: form-data; name=\"only_cpu_and_memory\"\r\n\r\ntrue"),
			wantCode: 200,
		},
		{
			name: "a 2 MiB header", method: http.MethodGet, target: server.SummaryPath,
			header:   http.Header{"X-Big": {strings.Repeat("h", 2<<20)}},
			wantCode: http.StatusRequestHeaderFieldsTooLarge,
		},
		{
			name: "20 000 headers", method: http.MethodGet, target: server.SummaryPath,
			header: func() http.Header {
				h := http.Header{}
				for i := range 20_000 {
					h.Set(fmt.Sprintf("X-H-%d", i), strings.Repeat("v", 50))
				}
				return h
			}(),
			wantCode: http.StatusRequestHeaderFieldsTooLarge,
		},
		{
			name: "a 2 MiB query", method: http.MethodGet,
			target:   server.SummaryPath + "?pad=" + strings.Repeat("q", 2<<20),
			wantCode: http.StatusRequestHeaderFieldsTooLarge,
		},
		{
			name: "unreadable Accept-Encoding is plain JSON", method: http.MethodGet, target: server.SummaryPath,
			header:   http.Header{"Accept-Encoding": {"gzip;q=;;,*;q=NaN, ,;,=,q"}},
			wantCode: 200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, base+tt.target, bytes.NewReader(tt.body))
			require.NoError(t, err)
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.wantCode, resp.StatusCode, "body: %.300s", body)
			assert.Equal(t, tt.wantAllow, resp.Header.Get("Allow"))
			switch {
			case tt.wantCode == 200:
				_, err := decodeStrict(body)
				require.NoError(t, err)
			case tt.wantInMsg != "":
				var e server.ErrorBody
				require.NoError(t, json.Unmarshal(body, &e), "body: %.300s", body)
				assert.Equal(t, tt.wantCode, e.Code)
				assert.Contains(t, e.Message, tt.wantInMsg)
			}
		})
	}

	// Malformed at the HTTP level: net/http refuses them before the handler.
	raw := []struct {
		name     string
		req      string
		wantCode int
	}{
		{"garbage request line", "GARBAGE\r\n\r\n", 400},
		{"header without a colon", "GET /stats/summary HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
		{"space in a header name", "GET /stats/summary HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400},
		{"two Content-Lengths", "POST /stats/summary HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"negative Content-Length", "POST /stats/summary HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400},
		{"HTTP/1.1 without Host", "GET /stats/summary HTTP/1.1\r\n\r\n", 400},
		{"unsupported protocol version", "GET /stats/summary HTTP/3.7\r\nHost: x\r\n\r\n", 505},
		{"NUL in the path", "GET /stats/summary\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantCode, rawExchange(t, addr, []byte(tt.req)))
		})
	}

	// Still serving.
	r, err := fetch(t.Context(), client, base+server.SummaryPath, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.status)
	checkSummary(t, r.body)
}

// TestServerSlowClients: clients that send their headers slowly (or never)
// are cut off at read_header_timeout, idle keep-alive connections at the idle
// timeout, and while 50 such clients hang on, others are served.
func TestServerSlowClients(t *testing.T) {
	const headerTimeout, idleTimeout = 300 * time.Millisecond, 300 * time.Millisecond
	_, addr, _ := abuseServer(t, headerTimeout, idleTimeout)

	// closedWithin opens a connection, writes prefix, and returns how long the
	// server took to close it (reading anything it sends meanwhile).
	closedWithin := func(t *testing.T, prefix string) (time.Duration, []byte) {
		var d net.Dialer
		conn, err := d.DialContext(t.Context(), "tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		start := time.Now()
		require.NoError(t, conn.SetDeadline(start.Add(waitFor)))
		if prefix != "" {
			_, err = io.WriteString(conn, prefix)
			require.NoError(t, err)
		}
		got, err := io.ReadAll(conn)
		require.NoError(t, err, "the server closes the connection before the test's deadline")
		return time.Since(start), got
	}

	t.Run("headers never finished", func(t *testing.T) {
		took, _ := closedWithin(t, "GET /stats/summary HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		assert.Less(t, took, headerTimeout+5*time.Second)
	})
	t.Run("nothing sent", func(t *testing.T) {
		took, got := closedWithin(t, "")
		assert.Less(t, took, headerTimeout+5*time.Second)
		assert.Empty(t, got)
	})
	t.Run("idle keep-alive connection", func(t *testing.T) {
		took, got := closedWithin(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		assert.Less(t, took, idleTimeout+5*time.Second)
		assert.True(t, bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK")), "answered first: %q", got)
	})
	t.Run("others are served while 50 clients trickle", func(t *testing.T) {
		var conns []net.Conn
		t.Cleanup(func() {
			for _, c := range conns {
				_ = c.Close()
			}
		})
		var d net.Dialer
		for range 50 {
			c, err := d.DialContext(t.Context(), "tcp", addr)
			require.NoError(t, err)
			_, err = io.WriteString(c, "GET /stats/summary HTTP/1.1\r\n")
			require.NoError(t, err)
			conns = append(conns, c)
		}
		client := &http.Client{Transport: &http.Transport{}, Timeout: waitFor}
		t.Cleanup(client.CloseIdleConnections)
		r, err := fetch(t.Context(), client, "http://"+addr+server.SummaryPath, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.status)
		checkSummary(t, r.body)
	})
}

// TestServerClientsWhileRuntimeFails runs 32 clients against the endpoint
// while scrapes run and the runtime alternates between slow, failing and
// healthy. Every request is answered before its deadline: 200 with a valid
// Summary (the last complete one, with the refresh error when the newest
// assembly failed) or 503 with a JSON error; never anything else. Under -race.
func TestServerClientsWhileRuntimeFails(t *testing.T) {
	const clients, requests = 32, 15
	cri := newCRI(t)
	cfg := newTestConfig(cri.Endpoint)
	cfg.CRI.Timeout = 200 * time.Millisecond
	cfg.Server = serverConfig(t, "127.0.0.1:0", time.Millisecond) // nearly every request assembles
	s := startScraper(t, cfg, componenttest.NewNopHost(), nil)
	_, err := s.scrape(t.Context())
	require.NoError(t, err)

	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	url := "http://" + s.server.addr.String() + server.SummaryPath

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { // the runtime's moods
		moods := []func(){
			func() { cri.SetDelay("ListContainerStats", time.Hour) },
			func() { cri.SetDelay("ListContainerStats", 0) },
			func() { cri.SetError("ListPodSandbox", status.Error(codes.Internal, "injected")) },
			func() { cri.SetError("ListPodSandbox", nil) },
		}
		for i := 0; ctx.Err() == nil; i++ {
			moods[i%len(moods)]()
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	wg.Go(func() { // scrapes all along
		for ctx.Err() == nil {
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			_, _ = s.scrape(sctx)
			scancel()
		}
	})

	var mu sync.Mutex
	var problems []string
	counts := map[int]int{}
	var cw sync.WaitGroup
	for c := range clients {
		cw.Go(func() {
			for i := range requests {
				rctx, rcancel := context.WithTimeout(t.Context(), waitFor)
				r, err := fetch(rctx, client, url, nil)
				rcancel()
				mu.Lock()
				switch {
				case err != nil:
					problems = append(problems, fmt.Sprintf("client %d request %d: %v", c, i, err))
				case r.status == http.StatusOK:
					if _, err := decodeStrict(r.body); err != nil {
						problems = append(problems, fmt.Sprintf("client %d request %d: %v", c, i, err))
					}
				case r.status == http.StatusServiceUnavailable:
					var e server.ErrorBody
					if err := json.Unmarshal(r.body, &e); err != nil || e.Code != 503 || r.header.Get("Retry-After") == "" {
						problems = append(problems, fmt.Sprintf("client %d request %d: 503 %q", c, i, r.body))
					}
				default:
					problems = append(problems, fmt.Sprintf("client %d request %d: status %d %q", c, i, r.status, r.body))
				}
				counts[r.status]++
				mu.Unlock()
			}
		})
	}
	cw.Wait()
	cancel()
	wg.Wait()
	cri.SetDelay("ListContainerStats", 0)
	cri.SetError("ListPodSandbox", nil)

	require.Empty(t, problems)
	assert.Equal(t, clients*requests, counts[http.StatusOK]+counts[http.StatusServiceUnavailable], "answers: %v", counts)
	assert.Positive(t, counts[http.StatusOK], "the last complete Summary is served through the faults: %v", counts)

	// And the endpoint is healthy again once the runtime is: a scrape may
	// still join an assembly a request started during the faults; the one
	// after it is fresh.
	if _, err = s.scrape(t.Context()); err != nil {
		_, err = s.scrape(t.Context())
	}
	require.NoError(t, err)
	r, err := fetch(t.Context(), client, url, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Get(server.HeaderRefreshError))
}
