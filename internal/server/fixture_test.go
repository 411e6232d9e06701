package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// base is the CRI timestamp origin of the fixture.
var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func ns(d time.Duration) int64 { return base.Add(d).UnixNano() }

// fixtureState is what the golden files were made from. It holds what the JSON
// must show the kubelet's way:
//   - pod "web" (created at base+0.5 s: startTime is cut to the second) with
//     "nginx", fully sampled, and "sidecar", whose CPU sample has no time (it
//     gets the time the answer arrived: the fake clock) and no
//     usage_nano_cores yet (usageNanoCores omitted, and so the pod's too) and
//     whose memory has no limit (availableBytes omitted);
//   - pod "idle", ready but with neither a creation time (startTime null) nor
//     a running container (containers empty);
//   - left out: an exited container, and an older NOTREADY sandbox of pod
//     "web" with its container (a READY sandbox of the same pod exists).
func fixtureState() crifake.State {
	const MiB = 1 << 20
	R := runtimeapi.ContainerState_CONTAINER_RUNNING
	return crifake.State{
		Sandboxes: []*runtimeapi.PodSandbox{
			{
				Id:        "sb-web",
				Metadata:  &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "shop", Uid: "uid-web"},
				State:     runtimeapi.PodSandboxState_SANDBOX_READY,
				CreatedAt: ns(500 * time.Millisecond),
			},
			{
				Id:       "sb-idle",
				Metadata: &runtimeapi.PodSandboxMetadata{Name: "idle", Namespace: "shop", Uid: "uid-idle"},
				State:    runtimeapi.PodSandboxState_SANDBOX_READY,
			},
			{
				Id:        "sb-old",
				Metadata:  &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "shop", Uid: "uid-old"},
				State:     runtimeapi.PodSandboxState_SANDBOX_NOTREADY,
				CreatedAt: ns(0),
			},
		},
		Containers: []*runtimeapi.Container{
			{Id: "c-nginx", PodSandboxId: "sb-web", Metadata: &runtimeapi.ContainerMetadata{Name: "nginx"}, State: R, CreatedAt: ns(10*time.Second + 999*time.Millisecond)},
			{Id: "c-sidecar", PodSandboxId: "sb-web", Metadata: &runtimeapi.ContainerMetadata{Name: "sidecar", Attempt: 2}, State: R, CreatedAt: ns(11 * time.Second)},
			{Id: "c-sidecar-old", PodSandboxId: "sb-web", Metadata: &runtimeapi.ContainerMetadata{Name: "sidecar", Attempt: 1}, State: runtimeapi.ContainerState_CONTAINER_EXITED, CreatedAt: ns(1 * time.Second)},
			{Id: "c-old", PodSandboxId: "sb-old", Metadata: &runtimeapi.ContainerMetadata{Name: "old"}, State: R, CreatedAt: ns(0)},
		},
		ContainerStats: []*runtimeapi.ContainerStats{
			{
				Attributes: &runtimeapi.ContainerAttributes{Id: "c-nginx"},
				Cpu:        &runtimeapi.CpuUsage{Timestamp: ns(100*time.Second + 500*time.Millisecond), UsageCoreNanoSeconds: testkit.U64(1_500_000_000), UsageNanoCores: testkit.U64(250_000_000)},
				Memory: &runtimeapi.MemoryUsage{
					Timestamp: ns(100*time.Second + 500*time.Millisecond), WorkingSetBytes: testkit.U64(100 * MiB), UsageBytes: testkit.U64(150 * MiB),
					RssBytes: testkit.U64(80 * MiB), AvailableBytes: testkit.U64(400 * MiB), PageFaults: testkit.U64(1000), MajorPageFaults: testkit.U64(3),
				},
			},
			{
				Attributes: &runtimeapi.ContainerAttributes{Id: "c-sidecar"},
				Cpu:        &runtimeapi.CpuUsage{UsageCoreNanoSeconds: testkit.U64(500_000_000)},
				Memory: &runtimeapi.MemoryUsage{
					Timestamp: ns(99 * time.Second), WorkingSetBytes: testkit.U64(20 * MiB), UsageBytes: testkit.U64(30 * MiB),
					RssBytes: testkit.U64(10 * MiB), AvailableBytes: testkit.U64(0), PageFaults: testkit.U64(10), MajorPageFaults: testkit.U64(0),
				},
			},
			{Attributes: &runtimeapi.ContainerAttributes{Id: "c-sidecar-old"}, Cpu: &runtimeapi.CpuUsage{Timestamp: ns(0), UsageCoreNanoSeconds: testkit.U64(9)}},
			{Attributes: &runtimeapi.ContainerAttributes{Id: "c-old"}, Cpu: &runtimeapi.CpuUsage{Timestamp: ns(0), UsageCoreNanoSeconds: testkit.U64(7)}},
		},
	}
}

// criEnv is the real chain from a CRI server on a unix socket to the handler
// on a loopback listener: crifake → gRPC → cri.Provider → summary.Assembler →
// summary.Store → Handler → httptest.Server.
type criEnv struct {
	cri     *crifake.Server
	clock   *fakeclock.Clock
	store   *summary.Store
	handler *Handler
	url     string // the server's base URL
}

func newCRIEnv(t *testing.T, st crifake.State, maxAge time.Duration) *criEnv {
	t.Helper()
	return newCRIEnvWith(t, st, maxAge, nil)
}

// newCRIEnvWith is newCRIEnv whose assembler options are changed by edit
// (when not nil) before the assembler is made.
func newCRIEnvWith(t *testing.T, st crifake.State, maxAge time.Duration, edit func(*summary.Options)) *criEnv {
	t.Helper()
	fake := crifake.New(t)
	fake.SetState(st)
	conn, err := grpc.NewClient(fake.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	clock := fakeclock.New(base.Add(time.Hour))
	opts := summary.Options{NodeName: "node-a", Pods: cri.NewProvider(cri.NewClient(conn, 5*time.Second), cri.Options{Now: clock.Now})}
	if edit != nil {
		edit(&opts)
	}
	asm := summary.NewAssembler(opts)
	store := summary.NewStore(asm, summary.StoreOptions{Now: clock.Now, Timeout: 10 * time.Second})
	t.Cleanup(store.Close)
	h, err := NewHandler(Options{Store: store, MaxAge: maxAge, Now: clock.Now})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &criEnv{cri: fake, clock: clock, store: store, handler: h, url: srv.URL}
}

// scrape makes an assembly the way the receiver's scraper does.
func (e *criEnv) scrape(t *testing.T) *summary.Snapshot {
	t.Helper()
	snap, err := e.store.Get(t.Context(), 0)
	require.NoError(t, err)
	return snap
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
	// gzipped is true when the transport undid a Content-Encoding: gzip.
	gzipped bool
}

// do sends one request with the given method, path (with query) and headers.
func do(t *testing.T, ctx context.Context, client *http.Client, method, url string, body io.Reader, header http.Header) response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	require.NoError(t, err)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b, gzipped: resp.Uncompressed}
}

func get(t *testing.T, url string) response {
	t.Helper()
	return do(t, t.Context(), http.DefaultClient, http.MethodGet, url, nil, nil)
}

// decodeSummary decodes b strictly: a field the kubelet's Summary does not
// have fails the test, and so does anything after the one JSON value.
func decodeSummary(t *testing.T, b []byte) *statsapi.Summary {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var s statsapi.Summary
	require.NoError(t, dec.Decode(&s))
	require.False(t, dec.More(), "data after the Summary")
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "data after the Summary")
	return &s
}

// decodeError decodes an error answer strictly and checks its code.
func decodeError(t *testing.T, r response, wantCode int) ErrorBody {
	t.Helper()
	require.Equal(t, wantCode, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	var e ErrorBody
	require.NoError(t, dec.Decode(&e), "body: %s", r.body)
	require.Equal(t, wantCode, e.Code)
	require.Equal(t, http.StatusText(wantCode), e.Status)
	require.NotEmpty(t, e.Message)
	return e
}
