package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"sigs.k8s.io/randfill"

	"github.com/statssummary/statssummary/internal/host"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

func TestNewHandlerRejectsBadOptions(t *testing.T) {
	store := summary.NewStore(fixedSource{}, summary.StoreOptions{})
	t.Cleanup(store.Close)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no store", Options{}, "server: a summary store is required"},
		{"negative max age", Options{Store: store, MaxAge: -time.Second}, "server: max age must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHandler(tt.opts)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

// TestErrorsAreJSON checks every refusal: its status, its JSON body and the
// headers that go with it.
func TestErrorsAreJSON(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Minute)
	env.scrape(t)

	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		header     http.Header
		wantCode   int
		wantAllow  string
		wantInBody string
	}{
		{"put on summary", http.MethodPut, SummaryPath, "", nil, 405, "GET, POST", "method PUT not allowed on /stats/summary"},
		{"delete on summary", http.MethodDelete, SummaryPath, "", nil, 405, "GET, POST", "method DELETE not allowed"},
		{"head on summary", http.MethodHead, SummaryPath, "", nil, 405, "GET, POST", ""},
		{"post on healthz", http.MethodPost, HealthzPath, "", nil, 405, "GET, HEAD", "method POST not allowed on /healthz"},
		{"bad escape in query", http.MethodGet, SummaryPath + "?only_cpu_and_memory=%zz", "", nil, 400, "", "malformed query or form"},
		{"semicolon in query", http.MethodGet, SummaryPath + "?a=1;b=2", "", nil, 400, "", "malformed query or form"},
		{"not a boolean", http.MethodGet, SummaryPath + "?only_cpu_and_memory=yes", "", nil, 400, "", `only_cpu_and_memory must be true or false, got "yes"`},
		{"empty value", http.MethodGet, SummaryPath + "?only_cpu_and_memory", "", nil, 400, "", `got ""`},
		{"given twice", http.MethodGet, SummaryPath + "?only_cpu_and_memory=true&only_cpu_and_memory=true", "", nil, 400, "", "given 2 times"},
		{
			"bad form body", http.MethodPost, SummaryPath, "only_cpu_and_memory=%zz",
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 400, "", "malformed query or form",
		},
		{"unknown path", http.MethodGet, "/stats", "", nil, 404, "", `no such path "/stats"`},
		{"trailing slash", http.MethodGet, SummaryPath + "/", "", nil, 404, "", "no such path"},
		{"root", http.MethodGet, "/", "", nil, 404, "", "this server serves /stats/summary and /healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, t.Context(), http.DefaultClient, tt.method, env.url+tt.target, strings.NewReader(tt.body), tt.header)
			assert.Equal(t, tt.wantAllow, r.header.Get("Allow"))
			if tt.method == http.MethodHead { // no body to read
				assert.Equal(t, tt.wantCode, r.status)
				return
			}
			e := decodeError(t, r, tt.wantCode)
			assert.Contains(t, e.Message, tt.wantInBody)
			assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		})
	}
}

func TestServiceUnavailableBeforeFirstSnapshot(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Minute)

	r := get(t, env.url+SummaryPath)
	e := decodeError(t, r, http.StatusServiceUnavailable)
	assert.Contains(t, e.Message, "no summary yet")
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	// Requests do not assemble before the first scrape.
	assert.Equal(t, 0, env.cri.Calls("ListPodSandbox"))

	env.scrape(t)
	r = get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Get("Retry-After"))
}

// TestFailedAssemblyKeepsServingOlderSnapshot breaks the runtime after one good
// scrape: the endpoint keeps serving the good snapshot, says its age and why it
// is old, and asks the runtime at most once per max-age window.
func TestFailedAssemblyKeepsServingOlderSnapshot(t *testing.T) {
	const maxAge = 10 * time.Second
	env := newCRIEnv(t, fixtureState(), maxAge)
	good := env.scrape(t)
	require.NoError(t, good.Err)
	want := get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, want.status)
	assert.Equal(t, "0", want.header.Get("Age"))
	assert.Empty(t, want.header.Get(HeaderRefreshError))
	assert.Equal(t, "partial", want.header.Get(HeaderStatsPath), "the fake runtime answers ListContainerStats alone")

	env.cri.SetError("ListContainerStats", status.Error(codes.Unavailable, "runtime restarting"))
	env.clock.Advance(maxAge + time.Second)

	r := get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, string(want.body), string(r.body), "the good snapshot is served")
	assert.Equal(t, "11", r.header.Get("Age"))
	assert.Equal(t, good.Time.Format(time.RFC3339Nano), r.header.Get(HeaderSummaryTime))
	assert.Contains(t, r.header.Get(HeaderRefreshError), "ListContainerStats")
	assert.Contains(t, r.header.Get(HeaderRefreshError), "runtime restarting")
	assert.Equal(t, 2, env.cri.Calls("ListPodSandbox"), "the stale snapshot triggered one assembly")

	// Within the window of the failed attempt: no new assembly.
	env.clock.Advance(maxAge / 2)
	r = get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "16", r.header.Get("Age"))
	assert.NotEmpty(t, r.header.Get(HeaderRefreshError))
	assert.Equal(t, 2, env.cri.Calls("ListPodSandbox"))

	// The runtime recovers: the next window serves fresh data.
	env.cri.SetError("ListContainerStats", nil)
	env.clock.Advance(maxAge)
	r = get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "0", r.header.Get("Age"))
	assert.Empty(t, r.header.Get(HeaderRefreshError))
	assert.Equal(t, 3, env.cri.Calls("ListPodSandbox"))
}

// TestSecondarySourceFailingForeverServesNewestPartial (issue 14, defect 9):
// while a source other than the runtime fails, every assembly still has the
// runtime's stats. The endpoint used to serve the last complete snapshot,
// however old, for as long as that source failed; it serves the newest
// assembly, marked partial with the failed source named. When the runtime
// fails too, the newest assembly with its stats is served (with the refresh
// error) until it is older than the stale bound (3 × max age), then 503.
func TestSecondarySourceFailingForeverServesNewestPartial(t *testing.T) {
	const maxAge = 10 * time.Second
	// A real host provider over a proc directory the test breaks.
	proc := t.TempDir()
	for file, content := range map[string]string{
		"stat":                   "cpu  1 2 3\nbtime 1700000000\n",
		"loadavg":                "0.10 0.20 0.30 2/300 4242\n",
		"sys/kernel/pid_max":     "32768\n",
		"sys/kernel/threads-max": "63000\n",
		"meminfo":                "MemTotal:       16384000 kB\n",
	} {
		path := filepath.Join(proc, file)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	hp := host.New(host.Options{ProcRoot: proc, KubeletRootDir: t.TempDir(), PodLogsDir: t.TempDir()})
	env := newCRIEnvWith(t, fixtureState(), maxAge, func(o *summary.Options) { o.Host = hp })

	first := env.scrape(t)
	require.NoError(t, first.Err)
	r := get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Get(HeaderPartial), "a complete snapshot is not partial")
	require.NotNil(t, decodeSummary(t, r.body).Node.Rlimit)

	// The host source fails from now on: pid_max holds no number. (Removing
	// it would not do: the provider reads it through a descriptor kept
	// open, as a real /proc file, which nothing removes, allows.)
	require.NoError(t, os.WriteFile(filepath.Join(proc, "sys/kernel/pid_max"), []byte("lots\n"), 0o644))
	for i := range 6 {
		env.clock.Advance(maxAge + time.Second)
		r = get(t, env.url+SummaryPath)
		require.Equal(t, http.StatusOK, r.status, "round %d: %s", i, r.body)
		assert.Equal(t, "0", r.header.Get("Age"), "round %d: the newest assembly is served", i)
		assert.Equal(t, env.clock.Now().Format(time.RFC3339Nano), r.header.Get(HeaderSummaryTime), "round %d", i)
		assert.Equal(t, "host", r.header.Get(HeaderPartial), "round %d: marked partial, naming the failed source", i)
		assert.Empty(t, r.header.Get(HeaderRefreshError), "round %d: nothing older is served", i)
		s := decodeSummary(t, r.body)
		assert.Nil(t, s.Node.Rlimit, "round %d: the failed source's part is missing", i)
		assert.Len(t, s.Pods, 2, "round %d: the runtime's pods are there", i)
	}
	partial := env.clock.Now()

	// The runtime fails too: the newest partial snapshot is served, with
	// the refresh error, while it is within the bound...
	env.cri.SetError("ListPodSandbox", status.Error(codes.Unavailable, "runtime restarting"))
	env.clock.Advance(maxAge + time.Second)
	r = get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "11", r.header.Get("Age"))
	assert.Equal(t, partial.Format(time.RFC3339Nano), r.header.Get(HeaderSummaryTime))
	assert.Equal(t, "host", r.header.Get(HeaderPartial))
	assert.Contains(t, r.header.Get(HeaderRefreshError), "runtime restarting")

	// ... and no longer once it is older than 3 × max age.
	env.clock.Advance(2*maxAge - time.Second) // 30 s: at the bound
	r = get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "30", r.header.Get("Age"))
	env.clock.Advance(time.Second)
	r = get(t, env.url+SummaryPath)
	e := decodeError(t, r, http.StatusServiceUnavailable)
	assert.Contains(t, e.Message, "started 31s ago, beyond the 30s bound")
	assert.Contains(t, e.Message, "runtime restarting")
	// The request at 30 s tried the runtime again; the next try is due
	// once that attempt is max age old.
	assert.Equal(t, "9", r.header.Get("Retry-After"))
	assert.Empty(t, r.header.Get(HeaderPartial))

	// The runtime recovers: fresh, still partial.
	env.cri.SetError("ListPodSandbox", nil)
	env.clock.Advance(maxAge + time.Second)
	r = get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "0", r.header.Get("Age"))
	assert.Equal(t, "host", r.header.Get(HeaderPartial))
}

// TestFailedFirstAssemblyIsUnavailable: without any complete snapshot a failed
// assembly is a 503 that names the failure and when to come back.
func TestFailedFirstAssemblyIsUnavailable(t *testing.T) {
	const maxAge = 10 * time.Second
	env := newCRIEnv(t, fixtureState(), maxAge)
	env.cri.SetError("ListPodSandbox", status.Error(codes.Internal, "boom"))
	snap := env.scrape(t)
	require.Error(t, snap.Err)

	env.clock.Advance(3 * time.Second)
	r := get(t, env.url+SummaryPath)
	e := decodeError(t, r, http.StatusServiceUnavailable)
	assert.Contains(t, e.Message, "summary assembly failed")
	assert.Contains(t, e.Message, "ListPodSandbox")
	assert.Equal(t, "7", r.header.Get("Retry-After"), "the failed attempt's window ends in 7 s")
	assert.Equal(t, 1, env.cri.Calls("ListPodSandbox"))
}

func TestSummaryAcceptsPostLikeTheKubelet(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Minute)
	env.scrape(t)
	full := get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, full.status)

	tests := []struct {
		name   string
		target string
		body   string
		header http.Header
	}{
		{"post, no body", SummaryPath, "", nil},
		{"post, JSON body is ignored", SummaryPath, `{"containerName":"/"}`, http.Header{"Content-Type": {"application/json"}}},
		{"post, query", SummaryPath + "?only_cpu_and_memory=false", "", nil},
		{"post, form", SummaryPath, url.Values{OnlyCPUAndMemoryParam: {"false"}}.Encode(), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
		{"post, unknown parameters are ignored", SummaryPath + "?foo=bar", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, t.Context(), http.DefaultClient, http.MethodPost, env.url+tt.target, strings.NewReader(tt.body), tt.header)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			assert.Equal(t, string(full.body), string(r.body))
		})
	}
}

// fixedSource answers every assembly with the same Summary.
type fixedSource struct{ s *statsapi.Summary }

func (f fixedSource) Get(context.Context) (*summary.Assembly, error) {
	s := f.s
	if s == nil {
		s = &statsapi.Summary{Pods: []statsapi.PodStats{}}
	}
	return &summary.Assembly{Summary: s}, nil
}

func newFixedEnv(t *testing.T, s *statsapi.Summary) (*Handler, string) {
	t.Helper()
	store := summary.NewStore(fixedSource{s}, summary.StoreOptions{})
	t.Cleanup(store.Close)
	_, err := store.Get(t.Context(), 0)
	require.NoError(t, err)
	h, err := NewHandler(Options{Store: store, MaxAge: time.Hour})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func objectKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestOnlyCPUAndMemoryOverHTTP serves a Summary with every block filled and
// checks, on the JSON itself, that the reduced answer keeps nothing else.
func TestOnlyCPUAndMemoryOverHTTP(t *testing.T) {
	var full statsapi.Summary
	randfill.NewWithSeed(7).NilChance(0).NumElements(2, 2).Fill(&full)
	_, base := newFixedEnv(t, &full)

	r := get(t, base+SummaryPath+"?only_cpu_and_memory=true")
	require.Equal(t, http.StatusOK, r.status)
	decodeSummary(t, r.body)

	type container = json.RawMessage
	var doc struct {
		Node struct {
			SystemContainers []container `json:"systemContainers"`
		} `json:"node"`
		Pods []struct {
			Containers []container `json:"containers"`
		} `json:"pods"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &top))
	assert.Equal(t, []string{"node", "pods"}, objectKeys(t, r.body))
	assert.Equal(t, []string{"cpu", "memory", "nodeName", "startTime", "systemContainers"}, objectKeys(t, top["node"]))

	var pods []json.RawMessage
	require.NoError(t, json.Unmarshal(top["pods"], &pods))
	require.Len(t, pods, 2)
	for i, p := range pods {
		assert.Equal(t, []string{"containers", "cpu", "memory", "podRef", "startTime"}, objectKeys(t, p), "pod %d", i)
		require.Len(t, doc.Pods[i].Containers, 2)
		for j, c := range doc.Pods[i].Containers {
			assert.Equal(t, []string{"cpu", "memory", "name", "startTime"}, objectKeys(t, c), "pod %d container %d", i, j)
		}
	}
	require.Len(t, doc.Node.SystemContainers, 2)
	for j, c := range doc.Node.SystemContainers {
		assert.Equal(t, []string{"cpu", "memory", "name", "startTime"}, objectKeys(t, c), "system container %d", j)
	}

	// The full answer of the same snapshot has the other blocks.
	r = get(t, base+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	require.NoError(t, json.Unmarshal(r.body, &top))
	assert.Contains(t, objectKeys(t, top["node"]), "rlimit")
}

// TestEncodedOncePerSnapshot: however many requests, each form of a snapshot
// is encoded once; a new snapshot is encoded anew.
func TestEncodedOncePerSnapshot(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Minute)
	env.scrape(t)

	queries := []string{"", "?only_cpu_and_memory=true"}
	var wg sync.WaitGroup
	bodies := make([][]byte, 40)
	for i := range bodies {
		wg.Go(func() {
			r := get(t, env.url+SummaryPath+queries[i%2])
			assert.Equal(t, http.StatusOK, r.status)
			bodies[i] = r.body
		})
	}
	wg.Wait()
	assert.Equal(t, int64(2), env.handler.encodes.Load(), "one encoding per form")
	for i := range bodies {
		assert.Equal(t, string(bodies[i%2]), string(bodies[i]))
	}

	env.clock.Advance(time.Minute + time.Second)
	r := get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, int64(3), env.handler.encodes.Load(), "the new snapshot is encoded")
}

func TestGzipWhenAsked(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Minute)
	env.scrape(t)
	plain := do(t, t.Context(), http.DefaultClient, http.MethodGet, env.url+SummaryPath, nil, http.Header{"Accept-Encoding": {"identity"}})
	require.Equal(t, http.StatusOK, plain.status)
	require.Empty(t, plain.header.Get("Content-Encoding"))

	// Go's transport asks for gzip itself and undoes it when the caller did not
	// set Accept-Encoding: resp.Uncompressed tells that the server gzipped.
	r := get(t, env.url+SummaryPath)
	require.Equal(t, http.StatusOK, r.status)
	assert.True(t, r.gzipped, "the server gzipped")
	assert.Equal(t, string(plain.body), string(r.body))
	assert.Equal(t, "Accept-Encoding", r.header.Get("Vary"))

	// The raw gzip body, asked for explicitly, is served with its header.
	raw := do(t, t.Context(), http.DefaultClient, http.MethodGet, env.url+SummaryPath, nil, http.Header{"Accept-Encoding": {"br;q=1.0, gzip;q=0.5"}})
	assert.Equal(t, "gzip", raw.header.Get("Content-Encoding"))
	assert.Less(t, len(raw.body), len(plain.body))
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{"identity"}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"deflate, gzip;q=0.8"}, true},
		{[]string{"deflate", "gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=bogus"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"x-gzip"}, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, acceptsGzip(tt.header), "%q", tt.header)
	}
}

func TestHealthz(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Minute) // no snapshot yet: healthy all the same
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := do(t, t.Context(), http.DefaultClient, method, env.url+HealthzPath, nil, nil)
		assert.Equal(t, http.StatusOK, r.status, method)
		assert.Equal(t, "application/json", r.header.Get("Content-Type"), method)
		if method == http.MethodGet {
			assert.JSONEq(t, `{"status":"ok"}`, string(r.body))
		}
	}
	assert.Equal(t, 0, env.cri.Calls("ListPodSandbox"), "probes never reach the runtime")
}

func TestRequestGivingUpIsUnavailable(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), time.Second)
	env.scrape(t)
	env.cri.SetDelay("ListContainerStats", time.Minute) // the next assembly hangs
	env.clock.Advance(2 * time.Second)

	// The client gives up; the handler sees its context end and answers 503
	// (which the gone client never reads). A handler called directly shows it.
	ctx, cancel := context.WithCancel(t.Context())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, SummaryPath, nil)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.handler.ServeHTTP(rec, req)
	}()
	testkit.Until(t, "the assembly to reach the runtime", 10*time.Second, func() bool { return env.cri.Calls("ListContainerStats") == 2 })
	cancel()
	<-done
	e := decodeError(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}, http.StatusServiceUnavailable)
	assert.True(t, errors.Is(ctx.Err(), context.Canceled))
	assert.Contains(t, e.Message, "context canceled")
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "a; b", oneLine("a\nb"))
	assert.Equal(t, "ab", oneLine("a\x00\rb"))
}
