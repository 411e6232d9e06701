package cri

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
)

// clientCalls is every call the Client makes, by RPC name.
var clientCalls = map[string]func(context.Context, *Client) error{
	"Version":             func(ctx context.Context, c *Client) error { _, err := c.Version(ctx); return err },
	"ListPodSandbox":      func(ctx context.Context, c *Client) error { _, err := c.ListPodSandbox(ctx); return err },
	"ListContainers":      func(ctx context.Context, c *Client) error { _, err := c.ListContainers(ctx); return err },
	"ListContainerStats":  func(ctx context.Context, c *Client) error { _, err := c.ListContainerStats(ctx); return err },
	"ListPodSandboxStats": func(ctx context.Context, c *Client) error { _, err := c.ListPodSandboxStats(ctx); return err },
	"ImageFsInfo":         func(ctx context.Context, c *Client) error { _, err := c.ImageFsInfo(ctx); return err },
	"PodSandboxStatus":    func(ctx context.Context, c *Client) error { _, err := c.PodSandboxStatus(ctx, "sb"); return err },
}

// TestEveryCallSendsPlainGRPCContentType makes each of the client's calls as
// the first call of a fresh connection, against the fake serving its socket
// as containerd does and as CRI-O does (cmux routing each connection by its
// first request's content-type, exactly "application/grpc"), and checks that
// every call arrives with content-type "application/grpc", whatever codec
// decodes its answer.
func TestEveryCallSendsPlainGRPCContentType(t *testing.T) {
	for _, mode := range []crifake.Mode{crifake.ModePlain, crifake.ModeCRIO} {
		t.Run(string(mode), func(t *testing.T) {
			srv := crifake.New(t, crifake.WithMode(mode))
			srv.SetState(crifake.State{
				Sandboxes:       []*runtimeapi.PodSandbox{sandbox("sb", "web", "uid", ready, 0)},
				PodSandboxStats: []*runtimeapi.PodSandboxStats{},
				ImageFs:         &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{UsedBytes: u64(1)}}},
			})
			want := map[string][]string{}
			for rpc, call := range clientCalls {
				// A new connection per call: none is warmed up by another.
				c := NewClient(dialFake(t, srv), 2*time.Second)
				require.NoError(t, call(t.Context(), c), rpc)
				want[rpc] = []string{"application/grpc"}
			}
			assert.Equal(t, want, srv.ContentTypes())
			assert.Zero(t, srv.RefusedConnections())
		})
	}
}

// TestFirstScrapeAgainstCRIOSocket is the reported failure: a provider whose
// first call on its connection is ListPodSandbox, against CRI-O's socket.
func TestFirstScrapeAgainstCRIOSocket(t *testing.T) {
	srv := crifake.New(t, crifake.WithMode(crifake.ModeCRIO))
	srv.SetState(crifake.State{
		Sandboxes:       []*runtimeapi.PodSandbox{sandbox("sb", "web", "uid", ready, 0)},
		Containers:      []*runtimeapi.Container{container("c1", "sb", "app", running, time.Second)},
		PodSandboxStats: []*runtimeapi.PodSandboxStats{{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb"}, Linux: &runtimeapi.LinuxPodSandboxStats{Containers: []*runtimeapi.ContainerStats{cpuMem("c1", 5, 6)}}}},
	})
	p := newTestProvider(t, srv, Options{})
	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	require.Len(t, res.Pods, 1)
	require.Len(t, res.Pods[0].Containers, 1)
	assert.Equal(t, uint64(6), *res.Pods[0].Containers[0].Memory.WorkingSetBytes)
	assert.Zero(t, srv.RefusedConnections())
}
