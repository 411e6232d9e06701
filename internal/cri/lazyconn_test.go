package cri

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statssummary/statssummary/internal/crifake"
)

// TestLazyConnDialsOnceSocketExists checks that no dial happens while the socket
// is absent, that calls then fail with Unavailable naming the socket, and that
// the first call after the runtime appears connects and succeeds.
func TestLazyConnDialsOnceSocketExists(t *testing.T) {
	dir, err := os.MkdirTemp("", "lazyconn")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "cri.sock")

	dials := 0
	lc := NewLazyConn(sock, func() (*grpc.ClientConn, error) {
		dials++
		return grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	})
	t.Cleanup(func() { require.NoError(t, lc.Close()) })
	client := NewClient(lc, 0)

	_, err = client.Version(t.Context())
	require.Error(t, err)
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.ErrorContains(t, err, sock)
	assert.ErrorContains(t, err, "cri Version")
	assert.Equal(t, 0, dials, "nothing is dialled while the socket is absent")

	srv, err := crifake.Start(sock)
	require.NoError(t, err)
	t.Cleanup(srv.Stop)

	v, err := client.Version(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "crifake", v.GetRuntimeName())
	_, err = client.ListPodSandbox(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, dials, "the connection is made once and reused")
}
