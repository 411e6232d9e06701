package cri

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
)

// onePodState is one ready pod with one running container, with both
// container stats and pod sandbox stats (the runtime implements both paths).
func onePodState() crifake.State {
	return crifake.State{
		Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
		ContainerStats: []*runtimeapi.ContainerStats{cpuMem("c1", 1000, 10)},
		PodSandboxStats: []*runtimeapi.PodSandboxStats{{
			Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"},
			Linux:      &runtimeapi.LinuxPodSandboxStats{Containers: []*runtimeapi.ContainerStats{cpuMem("c1", 1000, 10)}},
		}},
	}
}

// TestStatsPathDetection checks which path one assembly takes and which
// errors fail it.
func TestStatsPathDetection(t *testing.T) {
	tests := []struct {
		name        string
		forced      StatsPath
		sandboxErr  error // ListPodSandboxStats answer
		wantPath    StatsPath
		wantCode    codes.Code // codes.OK: no error
		wantSandbox int        // ListPodSandboxStats calls
		wantCtr     int        // ListContainerStats calls
	}{
		{name: "runtime implements ListPodSandboxStats: strict", wantPath: PathStrict, wantSandbox: 1},
		{name: "Unimplemented: partial in the same assembly", sandboxErr: status.Error(codes.Unimplemented, "no"), wantPath: PathPartial, wantSandbox: 1, wantCtr: 1},
		{name: "Unknown from the runtime: partial in the same assembly", sandboxErr: status.Error(codes.Unknown, "huh"), wantPath: PathPartial, wantSandbox: 1, wantCtr: 1},
		{name: "Internal from the runtime: partial in the same assembly", sandboxErr: status.Error(codes.Internal, "boom"), wantPath: PathPartial, wantSandbox: 1, wantCtr: 1},
		{name: "forced strict: Unknown is an error", forced: PathStrict, sandboxErr: status.Error(codes.Unknown, "huh"), wantPath: PathStrict, wantCode: codes.Unknown, wantSandbox: 1},
		{name: "Unavailable is an error, not a fallback", sandboxErr: status.Error(codes.Unavailable, "restarting"), wantCode: codes.Unavailable, wantSandbox: 1},
		{name: "forced partial never asks for sandbox stats", forced: PathPartial, wantPath: PathPartial, wantCtr: 1},
		{name: "forced strict: Unimplemented is an error", forced: PathStrict, sandboxErr: status.Error(codes.Unimplemented, "no"), wantPath: PathStrict, wantCode: codes.Unimplemented, wantSandbox: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := crifake.New(t)
			srv.SetState(onePodState())
			srv.SetError("ListPodSandboxStats", tt.sandboxErr)
			p := newTestProvider(t, srv, Options{StatsPath: tt.forced})

			res, err := p.PodStats(t.Context())
			if tt.wantCode != codes.OK {
				require.Error(t, err)
				assert.Equal(t, tt.wantCode, status.Code(err))
				assert.ErrorContains(t, err, "cri ListPodSandboxStats")
				assert.Empty(t, res.Pods)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.wantPath, res.Path)
				require.Len(t, res.Pods, 1)
				require.Len(t, res.Pods[0].Containers, 1)
			}
			assert.Equal(t, tt.wantPath, p.Path())
			assert.Equal(t, tt.wantSandbox, srv.Calls("ListPodSandboxStats"), "ListPodSandboxStats calls")
			assert.Equal(t, tt.wantCtr, srv.Calls("ListContainerStats"), "ListContainerStats calls")
		})
	}
}

// TestStatsPathRecheck checks that the partial path, once detected, is kept
// without probing, and probed again when the runtime may have changed.
func TestStatsPathRecheck(t *testing.T) {
	type step struct {
		do          func(srv *crifake.Server)
		wantPath    StatsPath
		wantCode    codes.Code
		wantSandbox int // cumulative ListPodSandboxStats calls
	}
	unimplemented := func(srv *crifake.Server) {
		srv.SetError("ListPodSandboxStats", status.Error(codes.Unimplemented, "no"))
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "partial is remembered while the runtime version stays",
			steps: []step{
				{do: unimplemented, wantPath: PathPartial, wantSandbox: 1},
				{wantPath: PathPartial, wantSandbox: 1},
				{wantPath: PathPartial, wantSandbox: 1},
			},
		},
		{
			name: "a new runtime version is probed again",
			steps: []step{
				{do: unimplemented, wantPath: PathPartial, wantSandbox: 1},
				{do: func(srv *crifake.Server) {
					srv.SetVersion("2.3.0")
					srv.SetError("ListPodSandboxStats", nil)
				}, wantPath: PathStrict, wantSandbox: 2},
				{wantPath: PathStrict, wantSandbox: 3},
			},
		},
		{
			name: "a broken connection (Unavailable) makes the next assembly probe again",
			steps: []step{
				{do: unimplemented, wantPath: PathPartial, wantSandbox: 1},
				{do: func(srv *crifake.Server) {
					srv.SetError("ListContainerStats", status.Error(codes.Unavailable, "gone"))
				}, wantPath: "", wantCode: codes.Unavailable, wantSandbox: 1},
				{do: func(srv *crifake.Server) {
					srv.SetError("ListContainerStats", nil)
					srv.SetError("ListPodSandboxStats", nil)
				}, wantPath: PathStrict, wantSandbox: 2},
			},
		},
		{
			name: "a strict runtime that starts answering Unimplemented falls back at once",
			steps: []step{
				{wantPath: PathStrict, wantSandbox: 1},
				{do: unimplemented, wantPath: PathPartial, wantSandbox: 2},
			},
		},
		{
			name: "Version failing on the partial path is an error",
			steps: []step{
				{do: unimplemented, wantPath: PathPartial, wantSandbox: 1},
				{do: func(srv *crifake.Server) {
					srv.SetError("Version", status.Error(codes.Internal, "boom"))
				}, wantPath: PathPartial, wantCode: codes.Internal, wantSandbox: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := crifake.New(t)
			srv.SetState(onePodState())
			p := newTestProvider(t, srv, Options{})
			for i, st := range tt.steps {
				if st.do != nil {
					st.do(srv)
				}
				res, err := p.PodStats(t.Context())
				if st.wantCode != codes.OK {
					assert.Equal(t, st.wantCode, status.Code(err), "step %d: %v", i, err)
				} else {
					require.NoError(t, err, "step %d", i)
					assert.Equal(t, st.wantPath, res.Path, "step %d", i)
					assert.Len(t, res.Pods, 1, "step %d", i)
				}
				assert.Equal(t, st.wantPath, p.Path(), "step %d", i)
				assert.Equal(t, st.wantSandbox, srv.Calls("ListPodSandboxStats"), "step %d: ListPodSandboxStats calls", i)
			}
		})
	}
}

func TestParseStatsPath(t *testing.T) {
	tests := []struct {
		in      string
		want    StatsPath
		wantErr string
	}{
		{in: "", want: PathAuto},
		{in: "auto", want: PathAuto},
		{in: "strict", want: PathStrict},
		{in: "partial", want: PathPartial},
		{in: "Strict", wantErr: `unknown stats path "Strict"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStatsPath(tt.in)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestStatsPathAfterRuntimeRestart restarts the CRI server on the same socket
// as a runtime that now implements ListPodSandboxStats: the connection errors
// during the restart make the provider probe again once the runtime is back.
func TestStatsPathAfterRuntimeRestart(t *testing.T) {
	old := crifake.New(t)
	st := onePodState()
	st.PodSandboxStats = nil // the old runtime lacks ListPodSandboxStats
	old.SetState(st)
	p := newTestProvider(t, old, Options{})
	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	require.Equal(t, PathPartial, res.Path)

	old.Stop()
	_, err = p.PodStats(t.Context())
	require.Error(t, err, "the runtime is down")
	assert.Equal(t, codes.Unavailable, status.Code(err))

	restarted, err := crifake.Start(old.SocketPath)
	require.NoError(t, err)
	t.Cleanup(restarted.Stop)
	restarted.SetState(onePodState())

	// gRPC reconnects with backoff: poll until the runtime answers.
	require.Eventually(t, func() bool {
		res, err = p.PodStats(t.Context())
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "the restarted runtime never answered")
	require.NoError(t, err)
	assert.Equal(t, PathStrict, res.Path)
	assert.Equal(t, 1, restarted.Calls("ListPodSandboxStats"))
	assert.Equal(t, 0, restarted.Calls("ListContainerStats"))
}

// A ListPodSandboxStats that outlives the call's timeout hands the scrape to
// the partial path at once (every pod still reported), and the strict path is
// tried again after SlowStrictRetry; a caller's own cancellation is not a
// reason to fall back.
func TestSlowStrictPathFallsBack(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(onePodState())
	clock := fakeclock.New(t0.Add(200 * time.Second))
	p := NewProvider(NewClient(dialFake(t, srv), 150*time.Millisecond), Options{Now: clock.Now})

	srv.SetDelay("ListPodSandboxStats", time.Second)
	res, err := p.PodStats(t.Context())
	require.NoError(t, err, "the slow strict call must not fail the scrape")
	assert.Equal(t, PathPartial, res.Path)
	require.Len(t, res.Pods, 1)
	assert.Len(t, res.Pods[0].Containers, 1)
	assert.Equal(t, 1, srv.Calls("ListPodSandboxStats"))
	assert.Equal(t, 1, srv.Calls("ListContainerStats"))

	// Until SlowStrictRetry has passed, the strict call is not made again.
	clock.Advance(SlowStrictRetry - time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathPartial, res.Path)
	assert.Equal(t, 1, srv.Calls("ListPodSandboxStats"))

	// Then it is, and a runtime that answers in time is back on it.
	srv.SetDelay("ListPodSandboxStats", 0)
	clock.Advance(2 * time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathStrict, res.Path)
	assert.Equal(t, 2, srv.Calls("ListPodSandboxStats"))

	// A caller that gives up is not a slow runtime.
	srv.SetDelay("ListPodSandboxStats", time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = p.PodStats(ctx)
	require.Error(t, err)
	assert.Equal(t, PathStrict, p.Path(), "the caller's deadline must not switch the path")
}

// TestStrictPathFailingInTheRuntimeFallsBack: containerd 2.x answers every
// ListPodSandboxStats on a node with the systemd cgroup driver with Unknown
// (it loads the sandbox's slice name as a cgroup path; seen with 2.4.2 in the
// cgroup v2 + systemd VM node). The scrape reads ListContainerStats at once
// and keeps every pod, the strict call is not made again for
// SlowStrictRetry, then it is, and a runtime that answers it is back on it.
// On the old rule the first scrape failed with no pod at all, and every
// later one too.
func TestStrictPathFailingInTheRuntimeFallsBack(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(onePodState())
	clock := fakeclock.New(t0.Add(200 * time.Second))
	p := NewProvider(NewClient(dialFake(t, srv), time.Second), Options{Now: clock.Now})

	srv.SetError("ListPodSandboxStats", status.Error(codes.Unknown, `failed to decode sandbox container metrics for sandbox "a3e4": failed getting metrics for sandbox a3e4: failed to load sandbox cgroup "kubepods-besteffort-pod0f00623e_f2c6.slice": cgroups: invalid group path`))
	res, err := p.PodStats(t.Context())
	require.NoError(t, err, "a strict call the runtime fails must not fail the scrape")
	assert.Equal(t, PathPartial, res.Path)
	require.Len(t, res.Pods, 1)
	assert.Len(t, res.Pods[0].Containers, 1)
	assert.Equal(t, 1, srv.Calls("ListPodSandboxStats"))
	assert.Equal(t, 1, srv.Calls("ListContainerStats"))

	clock.Advance(SlowStrictRetry - time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathPartial, res.Path)
	assert.Equal(t, 1, srv.Calls("ListPodSandboxStats"), "not asked again before SlowStrictRetry")

	srv.SetError("ListPodSandboxStats", nil)
	clock.Advance(2 * time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathStrict, res.Path)
	assert.Equal(t, 2, srv.Calls("ListPodSandboxStats"))

	// A failing partial call after the fallback is the scrape's error.
	srv.SetError("ListPodSandboxStats", status.Error(codes.Internal, "boom"))
	srv.SetError("ListContainerStats", status.Error(codes.Internal, "boom too"))
	_, err = p.PodStats(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "cri ListContainerStats")
}
