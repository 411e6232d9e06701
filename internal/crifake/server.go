package crifake

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// State is what the server answers with. Slices are served in order.
type State struct {
	Sandboxes      []*runtimeapi.PodSandbox
	Containers     []*runtimeapi.Container
	ContainerStats []*runtimeapi.ContainerStats
	// PodSandboxStats nil means the runtime does not implement
	// ListPodSandboxStats: the RPC answers Unimplemented, as older runtimes do.
	// A non-nil empty slice means it is implemented and has nothing to report.
	PodSandboxStats []*runtimeapi.PodSandboxStats
	ImageFs         *runtimeapi.ImageFsInfoResponse
}

// Server is a CRI runtime and image service on a unix socket.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	// Endpoint is the unix:// URL the server listens on.
	Endpoint string
	// SocketPath is the socket's path on disk.
	SocketPath string

	grpc *grpc.Server
	done chan struct{}

	mu      sync.Mutex
	state   State
	version string
	errs    map[string]error
	delays  map[string]time.Duration
	calls   map[string]int

	runtimeName string // Version's RuntimeName; "" answers "crifake"
}

// New starts a server on a socket in a fresh temporary directory and stops it
// when tb's test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	// t.TempDir paths can exceed the 108-byte limit of a socket path.
	dir, err := os.MkdirTemp("", "crifake")
	if err != nil {
		tb.Fatalf("crifake: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	s, err := Start(filepath.Join(dir, "cri.sock"))
	if err != nil {
		tb.Fatalf("crifake: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Start serves on a new unix socket at path.
func Start(path string) (*Server, error) {
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	s := &Server{
		Endpoint:   "unix://" + path,
		SocketPath: path,
		grpc:       grpc.NewServer(grpc.MaxSendMsgSize(64 << 20)),
		done:       make(chan struct{}),
		errs:       map[string]error{},
		delays:     map[string]time.Duration{},
		calls:      map[string]int{},
		version:    "0.1.0",
	}
	runtimeapi.RegisterRuntimeServiceServer(s.grpc, s)
	runtimeapi.RegisterImageServiceServer(s.grpc, s)
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis)
	}()
	return s, nil
}

// Stop closes the listener and every connection, and waits for the server to end.
// It is safe to call more than once.
func (s *Server) Stop() {
	s.grpc.Stop()
	<-s.done
}

// SetState replaces what the server answers with. The server keeps its own deep
// copy, so the caller may go on changing st.
func (s *Server) SetState(st State) {
	cp := State{
		Sandboxes:       cloneAll(st.Sandboxes),
		Containers:      cloneAll(st.Containers),
		ContainerStats:  cloneAll(st.ContainerStats),
		PodSandboxStats: cloneAll(st.PodSandboxStats),
	}
	if st.ImageFs != nil {
		cp.ImageFs = proto.Clone(st.ImageFs).(*runtimeapi.ImageFsInfoResponse)
	}
	s.mu.Lock()
	s.state = cp
	s.mu.Unlock()
}

// SetVersion changes the runtime version Version answers with, as an upgraded
// runtime would after a restart.
func (s *Server) SetVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = v
}

// SetRuntime changes the runtime name and version Version answers with, so
// that the server can stand for a given runtime ("containerd" "v1.6.20",
// "cri-o" "1.31.3").
func (s *Server) SetRuntime(name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runtimeName, s.version = name, version
}

// SetError makes the named RPC (for example "ListPodSandboxStats") fail with
// err; nil clears it. Use status.Error to choose the gRPC code.
func (s *Server) SetError(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.errs, method)
		return
	}
	s.errs[method] = err
}

// SetDelay makes the named RPC wait d (or until its caller gives up) before it
// answers; 0 clears it.
func (s *Server) SetDelay(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[method] = d
}

// Calls returns how many times the named RPC was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// enter counts a call, applies its delay and returns its injected error and a
// snapshot of the state to answer from.
func (s *Server) enter(ctx context.Context, method string) (State, error) {
	s.mu.Lock()
	s.calls[method]++
	d, err, st := s.delays[method], s.errs[method], s.state
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-t.C:
		}
	}
	return st, err
}

func cloneAll[T proto.Message](in []T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, m := range in {
		out[i] = proto.Clone(m).(T)
	}
	return out
}
