package cri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
// A DeadlineExceeded of the client's own timeout, not of a deadline of the
// caller's that came first, is marked so that OutlivedTimeout tells them
// apart (the runtime may report the deadline before the client's own timer
// fires, so the error alone cannot).
func call[Req, Resp any](parent context.Context, c *Client, name string, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req, opts ...grpc.CallOption) (Resp, error) {
	dl, hasDeadline := parent.Deadline()
	ownTimeout := !hasDeadline || time.Until(dl) > c.timeout
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	resp, err := rpc(ctx, req, opts...)
	if err == nil {
		return resp, nil
	}
	err = fmt.Errorf("cri %s: %w", name, err)
	if ownTimeout && parent.Err() == nil && status.Code(err) == codes.DeadlineExceeded {
		err = outlivedTimeout{err}
	}
	return resp, err
}

// outlivedTimeout marks a call that outlived the client's timeout; its
// message is the call's error.
type outlivedTimeout struct{ error }

func (e outlivedTimeout) Unwrap() error { return e.error }

// OutlivedTimeout reports whether err is a call that outlived the client's own
// timeout, rather than one cut short by its caller.
func OutlivedTimeout(err error) bool {
	var t outlivedTimeout
	return errors.As(err, &t)
}

// Version asks the runtime for its name and version.
func (c *Client) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	return call(ctx, c, "Version", c.runtime.Version, &runtimeapi.VersionRequest{})
}

// ListPodSandbox lists all pod sandboxes the runtime knows, in any state,
// without their annotations, and without their labels unless a sandbox's
// metadata lacks its pod's name, namespace or UID (see trim.go).
func (c *Client) ListPodSandbox(ctx context.Context) ([]*runtimeapi.PodSandbox, error) {
	resp, err := call(ctx, c, "ListPodSandbox", c.runtime.ListPodSandbox, &runtimeapi.ListPodSandboxRequest{}, trimPodSandboxes)
	return resp.GetItems(), err
}

// ListContainers lists all containers the runtime knows, in any state,
// without their annotations, and without their labels unless a container's
// metadata lacks its name (see trim.go).
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

// listPodSandboxStatsInto is ListPodSandboxStats decoding the answer into d,
// reset first: the messages of d's last answer are handed out again.
func (c *Client) listPodSandboxStatsInto(ctx context.Context, d *statsDecoder) ([]*runtimeapi.PodSandboxStats, error) {
	d.reset()
	resp, err := call(ctx, c, "ListPodSandboxStats", c.runtime.ListPodSandboxStats, &runtimeapi.ListPodSandboxStatsRequest{}, d.codec())
	return resp.GetStats(), err
}

// ImageFsInfo returns the usage of the filesystems that hold images and
// containers' writable layers.
func (c *Client) ImageFsInfo(ctx context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	return call(ctx, c, "ImageFsInfo", c.image.ImageFsInfo, &runtimeapi.ImageFsInfoRequest{})
}
