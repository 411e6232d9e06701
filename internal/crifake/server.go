package crifake

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
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
	// SandboxStatuses are the PodSandboxStatus answers, by their ID. A
	// listed sandbox without one is answered with a status built from its
	// PodSandbox, in a network namespace of its own (NamespaceMode POD), as
	// both containerd and CRI-O report a pod that is not hostNetwork.
	SandboxStatuses []*runtimeapi.PodSandboxStatus
	// PodSandboxMetrics and MetricDescriptors answer ListPodSandboxMetrics
	// and ListMetricDescriptors (CRI-O with included_pod_metrics); nil
	// means the RPC answers Unimplemented, as containerd does.
	PodSandboxMetrics []*runtimeapi.PodSandboxMetrics
	MetricDescriptors []*runtimeapi.MetricDescriptor
}

// Server is a CRI runtime and image service on a unix socket.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	// Endpoint is the unix:// URL the server listens on.
	Endpoint string
	// SocketPath is the socket's path on disk.
	SocketPath string

	// Mode is how the socket is served.
	Mode Mode

	grpc  *grpc.Server
	front *crioFront // nil in ModePlain
	done  chan struct{}

	mu           sync.Mutex
	state        State
	version      string
	errs         map[string]error
	delays       map[string]time.Duration
	calls        map[string]int
	contentTypes map[string]map[string]int // by RPC name, then content-type

	runtimeName string // Version's RuntimeName; "" answers "crifake"
}

// New starts a server on a socket in a fresh temporary directory and stops it
// when tb's test ends. Without a Mode option it serves in DefaultMode().
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	// t.TempDir paths can exceed the 108-byte limit of a socket path.
	dir, err := os.MkdirTemp("", "crifake")
	if err != nil {
		tb.Fatalf("crifake: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	s, err := Start(filepath.Join(dir, "cri.sock"), opts...)
	if err != nil {
		tb.Fatalf("crifake: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Start serves on a new unix socket at path. Without a Mode option it serves
// in DefaultMode().
func Start(path string, opts ...Option) (*Server, error) {
	o := options{mode: DefaultMode()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.mode != ModePlain && o.mode != ModeCRIO {
		return nil, fmt.Errorf("crifake: unknown mode %q", o.mode)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	s := &Server{
		Endpoint:     "unix://" + path,
		SocketPath:   path,
		Mode:         o.mode,
		done:         make(chan struct{}),
		errs:         map[string]error{},
		delays:       map[string]time.Duration{},
		calls:        map[string]int{},
		contentTypes: map[string]map[string]int{},
		version:      "0.1.0",
	}
	s.grpc = grpc.NewServer(grpc.MaxSendMsgSize(64<<20),
		grpc.UnaryInterceptor(s.recordUnary), grpc.StreamInterceptor(s.recordStream))
	runtimeapi.RegisterRuntimeServiceServer(s.grpc, s)
	runtimeapi.RegisterImageServiceServer(s.grpc, s)
	if o.mode == ModeCRIO {
		s.front = startCRIOFront(lis, s.grpc)
		go func() {
			defer close(s.done)
			s.front.wait()
		}()
		return s, nil
	}
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
	if s.front != nil {
		s.front.stop()
	}
	<-s.done
}

// ContentTypes returns, by RPC name, the content-type headers of the calls
// the gRPC server received, each once, sorted. A connection that CRI-O's
// socket front refused (see ModeCRIO) never reaches the gRPC server: its
// calls are not listed here but counted by RefusedConnections.
func (s *Server) ContentTypes() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.contentTypes))
	for rpc, types := range s.contentTypes {
		for ct := range types {
			out[rpc] = append(out[rpc], ct)
		}
		slices.Sort(out[rpc])
	}
	return out
}

// RefusedConnections counts the connections that the CRI-O front closed
// because their first request matched neither gRPC's content-type nor
// HTTP/1; 0 in ModePlain.
func (s *Server) RefusedConnections() int {
	if s.front == nil {
		return 0
	}
	return int(s.front.refused.Load())
}

func (s *Server) recordUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.recordContentType(ctx, info.FullMethod)
	return handler(ctx, req)
}

func (s *Server) recordStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	s.recordContentType(ss.Context(), info.FullMethod)
	return handler(srv, ss)
}

// recordContentType notes the content-type header of a call to fullMethod
// ("/runtime.v1.RuntimeService/ListPodSandbox"), by its RPC name.
func (s *Server) recordContentType(ctx context.Context, fullMethod string) {
	md, _ := metadata.FromIncomingContext(ctx)
	ct := strings.Join(md.Get("content-type"), ", ")
	rpc := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contentTypes[rpc] == nil {
		s.contentTypes[rpc] = map[string]int{}
	}
	s.contentTypes[rpc][ct]++
}

// SetState replaces what the server answers with. The server keeps its own deep
// copy, so the caller may go on changing st.
func (s *Server) SetState(st State) {
	cp := State{
		Sandboxes:         cloneAll(st.Sandboxes),
		Containers:        cloneAll(st.Containers),
		ContainerStats:    cloneAll(st.ContainerStats),
		PodSandboxStats:   cloneAll(st.PodSandboxStats),
		SandboxStatuses:   cloneAll(st.SandboxStatuses),
		PodSandboxMetrics: cloneAll(st.PodSandboxMetrics),
		MetricDescriptors: cloneAll(st.MetricDescriptors),
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
