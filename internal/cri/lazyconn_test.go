package cri

import (
	"context"
	"net"
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

// TestLazyConnRetriesAFailedFirstCall: a call made on a connection that was not
// yet ready and fails with Unavailable (here, a connection whose dial fails,
// as one that began before a restarted runtime's socket was back) is made once
// more on a fresh connection; a runtime that is really away still fails, after
// one more dial only.
func TestLazyConnRetriesAFailedFirstCall(t *testing.T) {
	srv := crifake.New(t)
	sock := srv.SocketPath
	broken := func() (*grpc.ClientConn, error) {
		return grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
				return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.ErrNotExist}
			}))
	}
	working := func() (*grpc.ClientConn, error) {
		return grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}

	dials := 0
	lc := NewLazyConn(sock, func() (*grpc.ClientConn, error) {
		dials++
		if dials == 1 {
			return broken()
		}
		return working()
	})
	t.Cleanup(func() { require.NoError(t, lc.Close()) })
	_, err := NewClient(lc, 2*time.Second).Version(t.Context())
	require.NoError(t, err, "the call is made again on a fresh connection")
	assert.Equal(t, 2, dials)
	assert.Equal(t, 1, srv.Calls("Version"))

	// An Unavailable the runtime answers itself, on the first call of a
	// fresh connection, is returned as it is: the runtime was reached.
	srv.SetError("ListPodSandbox", status.Error(codes.Unavailable, "restarting"))
	answered := NewLazyConn(sock, working)
	t.Cleanup(func() { require.NoError(t, answered.Close()) })
	_, err = NewClient(answered, 2*time.Second).ListPodSandbox(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "restarting")
	assert.Equal(t, 1, srv.Calls("ListPodSandbox"), "the runtime's own Unavailable is not repeated")

	always := NewLazyConn(sock, broken)
	t.Cleanup(func() { require.NoError(t, always.Close()) })
	_, err = NewClient(always, 2*time.Second).Version(t.Context())
	require.Error(t, err)
	assert.Equal(t, codes.Unavailable, status.Code(err))
}
