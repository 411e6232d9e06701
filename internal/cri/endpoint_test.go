package cri

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeEndpoint(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "/run/containerd/containerd.sock", want: "unix:///run/containerd/containerd.sock"},
		{in: "unix:///run/crio/crio.sock", want: "unix:///run/crio/crio.sock"},
		{in: "", wantErr: "empty endpoint"},
		{in: "unix://", wantErr: `endpoint "unix://" has no socket path`},
		{in: "tcp://127.0.0.1:10010", wantErr: "only unix:// sockets"},
		{in: "run/containerd.sock", wantErr: "only unix:// sockets"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeEndpoint(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDetectEndpoint(t *testing.T) {
	dir, err := os.MkdirTemp("", "cri-detect")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	missing := "unix://" + filepath.Join(dir, "missing.sock")
	regular := filepath.Join(dir, "regular.sock")
	require.NoError(t, os.WriteFile(regular, nil, 0o600))
	sock := filepath.Join(dir, "real.sock")
	lis, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lis.Close() })

	got, found := DetectEndpoint([]string{missing, "unix://" + regular, "unix://" + sock})
	assert.True(t, found)
	assert.Equal(t, "unix://"+sock, got, "a regular file is not a socket")

	got, found = DetectEndpoint([]string{missing, "unix://" + regular})
	assert.False(t, found)
	assert.Equal(t, missing, got, "with no socket, the first candidate is kept to retry")

	got, found = DetectEndpoint(nil)
	assert.False(t, found)
	assert.Empty(t, got)
}
