package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statssummary/statssummary/internal/crifake"
)

func dialFake(t *testing.T, srv *crifake.Server) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestClientTimeoutBoundsEveryCall checks that a runtime that hangs costs one
// timeout, reported as DeadlineExceeded naming the RPC.
func TestClientTimeoutBoundsEveryCall(t *testing.T) {
	srv := crifake.New(t)
	srv.SetDelay("ListContainerStats", time.Minute)
	client := NewClient(dialFake(t, srv), 100*time.Millisecond)

	_, err := client.ListContainerStats(t.Context())
	require.Error(t, err)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
	assert.ErrorContains(t, err, "cri ListContainerStats")
}

// TestClientKeepsStatusCode checks that the gRPC code survives the wrapping, so
// callers can tell Unimplemented from other failures.
func TestClientKeepsStatusCode(t *testing.T) {
	srv := crifake.New(t)
	srv.SetError("ListPodSandboxStats", status.Error(codes.Unimplemented, "not here"))
	client := NewClient(dialFake(t, srv), time.Second)

	_, err := client.ListPodSandboxStats(t.Context())
	assert.Equal(t, codes.Unimplemented, status.Code(err))
	assert.ErrorContains(t, err, "cri ListPodSandboxStats")
	assert.Equal(t, 1, srv.Calls("ListPodSandboxStats"))
}
