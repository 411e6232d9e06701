package crifake

import (
	"testing"

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
