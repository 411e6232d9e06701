package cri

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statssummary/statssummary/internal/crifake"
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
	// Down: calls fail with Unavailable until the connection has given up.
	require.Eventually(t, func() bool {
		_, err := client.Version(t.Context())
		return status.Code(err) == codes.Unavailable && conns[0].GetState() == connectivity.TransientFailure
	}, 10*time.Second, time.Millisecond, "the first connection reaches TRANSIENT_FAILURE")
	_, err = client.Version(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "runtime socket "+sock, "a failed connection is dropped: the error names the missing socket")

	srv, err = crifake.Start(sock)
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	v, err := client.Version(t.Context())
	require.NoError(t, err, "the first call after the restart reaches the runtime")
	assert.Equal(t, "crifake", v.GetRuntimeName())
	assert.Len(t, conns, 2, "dialled again once")
	assert.Equal(t, connectivity.Shutdown, conns[0].GetState(), "the failed connection was closed")
}
