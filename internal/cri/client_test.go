package cri

import (
	"context"
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

// OutlivedTimeout tells the client's own timeout from a deadline of the
// caller's that came first; the error's message and status are the call's.
func TestClientOutlivedTimeout(t *testing.T) {
	srv := crifake.New(t)
	srv.SetDelay("Version", time.Second)
	c := NewClient(dialFake(t, srv), 100*time.Millisecond)

	_, err := c.Version(t.Context())
	require.Error(t, err)
	assert.True(t, OutlivedTimeout(err), "own timeout: %v", err)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
	assert.ErrorContains(t, err, "cri Version")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err = c.Version(ctx)
	require.Error(t, err)
	assert.False(t, OutlivedTimeout(err), "the caller's deadline came first: %v", err)
}
