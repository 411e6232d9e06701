package cri

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultTimeout bounds a CRI call when the caller gives no timeout.
const DefaultTimeout = 2 * time.Second

// MaxMessageSize is the largest CRI response accepted. The kubelet uses the same
// limit: a dense node's ListContainerStats easily exceeds gRPC's 4 MiB default.
const MaxMessageSize = 16 << 20

// Client is a CRI v1 runtime and image service client whose every call is bounded
// by a timeout. It is safe for concurrent use.
type Client struct {
	runtime runtimeapi.RuntimeServiceClient
	image   runtimeapi.ImageServiceClient
	timeout time.Duration
}

// NewClient returns a client over conn. A timeout ≤ 0 means DefaultTimeout.
func NewClient(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{
		runtime: runtimeapi.NewRuntimeServiceClient(conn),
		image:   runtimeapi.NewImageServiceClient(conn),
		timeout: timeout,
	}
}

// call runs one RPC under the client's timeout and names the RPC in its error.
// The gRPC status stays reachable through errors.As / status.FromError.
func call[Req, Resp any](ctx context.Context, c *Client, name string, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req, opts ...grpc.CallOption) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := rpc(ctx, req, opts...)
	if err != nil {
		return resp, fmt.Errorf("cri %s: %w", name, err)
	}
	return resp, nil
}

// Version asks the runtime for its name and version.
func (c *Client) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	return call(ctx, c, "Version", c.runtime.Version, &runtimeapi.VersionRequest{})
}

// ListPodSandbox lists all pod sandboxes the runtime knows, in any state,
// without their annotations (see trim.go).
func (c *Client) ListPodSandbox(ctx context.Context) ([]*runtimeapi.PodSandbox, error) {
	resp, err := call(ctx, c, "ListPodSandbox", c.runtime.ListPodSandbox, &runtimeapi.ListPodSandboxRequest{}, trimPodSandboxes)
	return resp.GetItems(), err
}

// ListContainers lists all containers the runtime knows, in any state,
// without their annotations (see trim.go).
func (c *Client) ListContainers(ctx context.Context) ([]*runtimeapi.Container, error) {
	resp, err := call(ctx, c, "ListContainers", c.runtime.ListContainers, &runtimeapi.ListContainersRequest{}, trimContainers)
	return resp.GetContainers(), err
}

// ListContainerStats returns the stats of every container, without the
// labels and annotations of their attributes (see trim.go).
func (c *Client) ListContainerStats(ctx context.Context) ([]*runtimeapi.ContainerStats, error) {
	resp, err := call(ctx, c, "ListContainerStats", c.runtime.ListContainerStats, &runtimeapi.ListContainerStatsRequest{}, trimContainerStats)
	return resp.GetStats(), err
}

// ListPodSandboxStats returns the stats of every pod sandbox, containers
// included, without the labels and annotations of their attributes (see
// trim.go).
func (c *Client) ListPodSandboxStats(ctx context.Context) ([]*runtimeapi.PodSandboxStats, error) {
	resp, err := call(ctx, c, "ListPodSandboxStats", c.runtime.ListPodSandboxStats, &runtimeapi.ListPodSandboxStatsRequest{}, trimPodSandboxStats)
	return resp.GetStats(), err
}

// ImageFsInfo returns the usage of the filesystems that hold images and
// containers' writable layers.
func (c *Client) ImageFsInfo(ctx context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	return call(ctx, c, "ImageFsInfo", c.image.ImageFsInfo, &runtimeapi.ImageFsInfoRequest{})
}
