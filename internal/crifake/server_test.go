package crifake

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func dial(t *testing.T, s *Server) runtimeapi.RuntimeServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(s.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn)
}

// TestListPodSandboxStatsImplemented checks that nil sandbox stats stand for a
// runtime without the RPC, and an empty slice for one with nothing to report.
func TestListPodSandboxStatsImplemented(t *testing.T) {
	tests := []struct {
		name     string
		stats    []*runtimeapi.PodSandboxStats
		wantCode codes.Code
		wantLen  int
	}{
		{name: "nil: Unimplemented", stats: nil, wantCode: codes.Unimplemented},
		{name: "empty: implemented, nothing listed", stats: []*runtimeapi.PodSandboxStats{}, wantCode: codes.OK},
		{name: "listed", stats: []*runtimeapi.PodSandboxStats{{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb"}}}, wantCode: codes.OK, wantLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t)
			s.SetState(State{PodSandboxStats: tt.stats})
			resp, err := dial(t, s).ListPodSandboxStats(t.Context(), &runtimeapi.ListPodSandboxStatsRequest{})
			assert.Equal(t, tt.wantCode, status.Code(err))
			assert.Len(t, resp.GetStats(), tt.wantLen)
			assert.Equal(t, 1, s.Calls("ListPodSandboxStats"))
		})
	}
}

func TestSetVersion(t *testing.T) {
	s := New(t)
	c := dial(t, s)
	v, err := c.Version(t.Context(), &runtimeapi.VersionRequest{})
	require.NoError(t, err)
	assert.Equal(t, "0.1.0", v.GetRuntimeVersion())

	s.SetVersion("2.3.0")
	v, err = c.Version(t.Context(), &runtimeapi.VersionRequest{})
	require.NoError(t, err)
	assert.Equal(t, "crifake", v.GetRuntimeName())
	assert.Equal(t, "2.3.0", v.GetRuntimeVersion())
}

// TestCRIOModeRoutesConnectionsByFirstRequest checks the CRI-O front: a
// connection whose first call says exactly "application/grpc" is served (and
// so are later calls on it, whatever their content-type), one whose first
// call says "application/grpc+proto" is closed, and HTTP/1 on the same socket
// reaches the info server. In ModePlain every call is served.
func TestCRIOModeRoutesConnectionsByFirstRequest(t *testing.T) {
	plusProto := grpc.CallContentSubtype("proto") // content-type: application/grpc+proto

	t.Run("crio", func(t *testing.T) {
		s := New(t, WithMode(ModeCRIO))
		assert.Equal(t, ModeCRIO, s.Mode)

		_, err := dial(t, s).Version(t.Context(), &runtimeapi.VersionRequest{}, plusProto)
		assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		assert.Equal(t, 1, s.RefusedConnections())
		assert.Zero(t, s.Calls("Version"), "a refused connection never reaches the gRPC server")

		c := dial(t, s)
		_, err = c.Version(t.Context(), &runtimeapi.VersionRequest{})
		require.NoError(t, err)
		_, err = c.ListPodSandbox(t.Context(), &runtimeapi.ListPodSandboxRequest{}, plusProto)
		require.NoError(t, err, "a connection routed to gRPC serves any content-type after")
		assert.Equal(t, map[string][]string{
			"Version":        {"application/grpc"},
			"ListPodSandbox": {"application/grpc+proto"},
		}, s.ContentTypes())

		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", s.SocketPath)
		}}}
		resp, err := hc.Get("http://crio/info")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		var info map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
		assert.Equal(t, "overlay", info["storage_driver"])
		assert.Equal(t, "/var/lib/containers/storage", info["storage_root"])
		assert.Equal(t, 1, s.RefusedConnections())
	})

	t.Run("plain", func(t *testing.T) {
		s := New(t, WithMode(ModePlain))
		_, err := dial(t, s).Version(t.Context(), &runtimeapi.VersionRequest{}, plusProto)
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{"Version": {"application/grpc+proto"}}, s.ContentTypes())
		assert.Zero(t, s.RefusedConnections())
	})
}

// TestCRIOModeStopsWithIdleConnections checks that Stop does not wait for a
// connection that never sent a request (cmux is still reading it).
func TestCRIOModeStopsWithIdleConnections(t *testing.T) {
	s, err := Start(filepath.Join(os.TempDir(), fmt.Sprintf("crifake-idle-%d.sock", os.Getpid())), WithMode(ModeCRIO))
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Remove(s.SocketPath) })
	conn, err := net.Dial("unix", s.SocketPath)
	require.NoError(t, err)
	defer conn.Close()
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop still waits for an idle connection after 10 s")
	}
}

// TestPodSandboxStatus checks the status served for a listed sandbox without
// one in the state (its own network namespace), one the state gives, and an
// unknown ID.
func TestPodSandboxStatus(t *testing.T) {
	s := New(t)
	s.SetState(State{
		Sandboxes: []*runtimeapi.PodSandbox{{Id: "own", CreatedAt: 7}, {Id: "host"}},
		SandboxStatuses: []*runtimeapi.PodSandboxStatus{{Id: "host", Linux: &runtimeapi.LinuxPodSandboxStatus{
			Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}},
		}}},
	})
	c := dial(t, s)
	own, err := c.PodSandboxStatus(t.Context(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "own"})
	require.NoError(t, err)
	assert.Equal(t, runtimeapi.NamespaceMode_POD, own.GetStatus().GetLinux().GetNamespaces().GetOptions().GetNetwork())
	assert.Equal(t, int64(7), own.GetStatus().GetCreatedAt())
	host, err := c.PodSandboxStatus(t.Context(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "host"})
	require.NoError(t, err)
	assert.Equal(t, runtimeapi.NamespaceMode_NODE, host.GetStatus().GetLinux().GetNamespaces().GetOptions().GetNetwork())
	_, err = c.PodSandboxStatus(t.Context(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "gone"})
	assert.Equal(t, codes.NotFound, status.Code(err))
	assert.Equal(t, 3, s.Calls("PodSandboxStatus"))
}

// TestMetricsRPCs checks that the CRI metrics calls answer Unimplemented (as
// containerd does) until the state gives them something, as CRI-O does with
// included_pod_metrics.
func TestMetricsRPCs(t *testing.T) {
	s := New(t)
	c := dial(t, s)
	_, err := c.ListPodSandboxMetrics(t.Context(), &runtimeapi.ListPodSandboxMetricsRequest{})
	assert.Equal(t, codes.Unimplemented, status.Code(err))
	_, err = c.ListMetricDescriptors(t.Context(), &runtimeapi.ListMetricDescriptorsRequest{})
	assert.Equal(t, codes.Unimplemented, status.Code(err))

	s.SetState(State{
		PodSandboxMetrics: []*runtimeapi.PodSandboxMetrics{{PodSandboxId: "sb", Metrics: []*runtimeapi.Metric{{Name: "container_network_receive_bytes_total", Value: &runtimeapi.UInt64Value{Value: 9}}}}},
		MetricDescriptors: []*runtimeapi.MetricDescriptor{{Name: "container_network_receive_bytes_total"}},
	})
	m, err := c.ListPodSandboxMetrics(t.Context(), &runtimeapi.ListPodSandboxMetricsRequest{})
	require.NoError(t, err)
	require.Len(t, m.GetPodMetrics(), 1)
	assert.Equal(t, uint64(9), m.GetPodMetrics()[0].GetMetrics()[0].GetValue().GetValue())
	d, err := c.ListMetricDescriptors(t.Context(), &runtimeapi.ListMetricDescriptorsRequest{})
	require.NoError(t, err)
	assert.Len(t, d.GetDescriptors(), 1)
	assert.Equal(t, 2, s.Calls("ListPodSandboxMetrics"))
}
