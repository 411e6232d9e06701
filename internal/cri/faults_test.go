package cri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestLazyConnRedialsAfterRuntimeRestart stops the runtime, lets a call fail
// while it is down (gRPC enters its reconnect backoff), restarts it on the
// same path and checks that the very next call succeeds on a fresh
// connection, without waiting out the backoff.
func TestLazyConnRedialsAfterRuntimeRestart(t *testing.T) {
	dir, err := os.MkdirTemp("", "lazyconn")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "cri.sock")
	srv, err := crifake.Start(sock)
	require.NoError(t, err)

	var conns []*grpc.ClientConn
	lc := NewLazyConn(sock, func() (*grpc.ClientConn, error) {
		c, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		conns = append(conns, c)
		return c, err
	})
	t.Cleanup(func() { require.NoError(t, lc.Close()) })
	client := NewClient(lc, time.Second)

	_, err = client.Version(t.Context())
	require.NoError(t, err)

	srv.Stop()
	// Down: calls fail with Unavailable; once the connection has failed
	// (TRANSIENT_FAILURE) it is dropped, and calls find the socket missing
	// without dialling.
	var lastErr error
	require.Eventually(t, func() bool {
		_, lastErr = client.Version(t.Context())
		return lastErr != nil && strings.Contains(lastErr.Error(), "runtime socket "+sock)
	}, 10*time.Second, time.Millisecond, "the failed connection is dropped")
	assert.Equal(t, codes.Unavailable, status.Code(lastErr))
	assert.Equal(t, connectivity.Shutdown, conns[0].GetState(), "the failed connection was closed")
	require.Len(t, conns, 1, "nothing dialled while the socket is missing")

	srv, err = crifake.Start(sock)
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	v, err := client.Version(t.Context())
	require.NoError(t, err, "the first call after the restart reaches the runtime")
	assert.Equal(t, "crifake", v.GetRuntimeName())
	assert.Len(t, conns, 2, "dialled again once")
}

// TestSourceFaultsLeaveOnlyTheirFieldsOut breaks the one filesystem source of
// the runtime provider, statfs of the writable layer's filesystem: its fields
// are absent, every other field of the container is still there, and the
// failure is logged with the container and the path.
func TestSourceFaultsLeaveOnlyTheirFieldsOut(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name string
		// mount returns the writable layer's mountpoint.
		mount       func(t *testing.T) string
		wantRootCap bool
		wantLog     string // in the logged error
	}{
		{name: "healthy: rootfs capacity", mount: func(t *testing.T) string { return t.TempDir() }, wantRootCap: true},
		{
			name:    "statfs of the writable layer's filesystem fails",
			mount:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone") },
			wantLog: "statfs ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := cpuMem("c1", 1000, 10)
			st.WritableLayer = &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: tt.mount(t)}, UsedBytes: testkit.U64(4096), InodesUsed: testkit.U64(7)}
			srv := crifake.New(t)
			srv.SetState(crifake.State{
				Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
				Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, s)},
				ContainerStats: []*runtimeapi.ContainerStats{st},
			})
			core, logs := observer.New(zapcore.DebugLevel)
			res, err := newTestProvider(t, srv, Options{Logger: zap.New(core), StatsPath: PathPartial}).PodStats(t.Context())
			require.NoError(t, err, "a filesystem fault is never a CRI error")
			require.Len(t, res.Pods, 1)
			require.Len(t, res.Pods[0].Containers, 1)
			c := res.Pods[0].Containers[0]

			// What the fault does not touch is always there.
			require.NotNil(t, c.CPU)
			assert.Equal(t, testkit.P64(1000), c.CPU.UsageCoreNanoSeconds)
			require.NotNil(t, c.Memory)
			assert.Equal(t, testkit.P64(10), c.Memory.WorkingSetBytes)
			require.NotNil(t, c.Rootfs)
			assert.Equal(t, testkit.P64(4096), c.Rootfs.UsedBytes)
			assert.Equal(t, testkit.P64(7), c.Rootfs.InodesUsed)
			require.NotNil(t, res.Pods[0].CPU)
			require.NotNil(t, res.Pods[0].Memory)
			assert.Nil(t, c.Logs, "container logs are the host provider's")

			assert.Equal(t, tt.wantRootCap, c.Rootfs.CapacityBytes != nil, "rootfs capacity")
			assert.Equal(t, tt.wantRootCap, c.Rootfs.AvailableBytes != nil, "rootfs available")
			if tt.wantLog == "" {
				assert.Zero(t, logs.Len(), "nothing to say: %v", logs.All())
				return
			}
			require.Equal(t, 1, logs.Len(), "one line per failed measurement: %v", logs.All())
			e := logs.All()[0]
			assert.Equal(t, "c1", e.ContextMap()["container_id"])
			assert.Contains(t, e.ContextMap()["error"], tt.wantLog)
		})
	}
}

// TestImageFsFaults: ImageFsInfo failing with each code is an error naming
// the call; a statfs failure on its mountpoint leaves capacity out only.
func TestImageFsFaults(t *testing.T) {
	for _, code := range []codes.Code{codes.Unimplemented, codes.Unknown, codes.Internal, codes.ResourceExhausted, codes.Unavailable} {
		t.Run(code.String(), func(t *testing.T) {
			srv := crifake.New(t)
			srv.SetError("ImageFsInfo", status.Error(code, "injected"))
			_, err := newTestProvider(t, srv, Options{}).ImageFsStats(t.Context())
			require.Error(t, err)
			assert.Equal(t, code, status.Code(err))
			assert.ErrorContains(t, err, "cri ImageFsInfo")
		})
	}
	t.Run("statfs fails", func(t *testing.T) {
		srv := crifake.New(t)
		srv.SetState(crifake.State{ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
			Timestamp: at(time.Second), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/nonexistent/statssummary"}, UsedBytes: testkit.U64(1 << 30), InodesUsed: testkit.U64(9),
		}}}})
		rs, err := newTestProvider(t, srv, Options{}).ImageFsStats(t.Context())
		require.NoError(t, err)
		require.NotNil(t, rs.ImageFs)
		assert.Equal(t, testkit.P64(1<<30), rs.ImageFs.UsedBytes)
		assert.Equal(t, testkit.P64(9), rs.ImageFs.InodesUsed)
		assert.Nil(t, rs.ImageFs.CapacityBytes)
		assert.Nil(t, rs.ImageFs.AvailableBytes)
	})
}
