package crifake

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soheilhy/cmux"
	"google.golang.org/grpc"
)

// Mode is how the server serves its socket.
type Mode string

const (
	// ModePlain serves gRPC alone on the socket, as containerd does: any
	// HTTP/2 connection reaches the gRPC server, whatever its content-type.
	ModePlain Mode = "plain"
	// ModeCRIO serves the socket as CRI-O (1.36, cmux v0.1.5) does: each
	// connection is routed by its first request, to the gRPC server when
	// that request is HTTP/2 with a content-type of exactly
	// "application/grpc" (cmux.HTTP2MatchHeaderFieldSendSettings), to an
	// HTTP/1 info server (CRI-O's /info) when it is HTTP/1
	// (cmux.HTTP1Fast); any other connection is closed, so its calls fail
	// Unavailable ("connection reset by peer", or "error reading from
	// server: EOF"). A connection routed to gRPC serves later calls of any
	// content-type.
	ModeCRIO Mode = "crio"
)

// ModeEnv names the environment variable that sets DefaultMode: "plain" (or
// unset) or "crio". `make test` runs the CRI and receiver tests once in each.
const ModeEnv = "CRIFAKE_MODE"

// DefaultMode is the mode New and Start use without a Mode option: $CRIFAKE_MODE,
// ModePlain when it is unset.
func DefaultMode() Mode {
	if m := os.Getenv(ModeEnv); m != "" {
		return Mode(m)
	}
	return ModePlain
}

// Option configures New and Start.
type Option func(*options)

type options struct{ mode Mode }

// WithMode serves the socket in mode m instead of DefaultMode().
func WithMode(m Mode) Option { return func(o *options) { o.mode = m } }

// CRIOInfo is what the CRI-O front's HTTP/1 server answers on GET /info, in
// the shape of CRI-O's own info endpoint.
var CRIOInfo = map[string]any{
	"storage_driver": "overlay",
	"storage_image":  "",
	"storage_root":   "/var/lib/containers/storage",
	"cgroup_driver":  "systemd",
	"default_id_mappings": map[string]any{
		"uids": []map[string]int{{"container_id": 0, "host_id": 0, "size": 4294967295}},
		"gids": []map[string]int{{"container_id": 0, "host_id": 0, "size": 4294967295}},
	},
}

// crioFront is CRI-O's socket: cmux in front of the gRPC server and an
// HTTP/1 server, with CRI-O's matchers (cmd/crio/main.go).
type crioFront struct {
	lis     *trackingListener
	mux     cmux.CMux
	http    *http.Server
	refused atomic.Int64
	wg      sync.WaitGroup
}

func startCRIOFront(lis net.Listener, g *grpc.Server) *crioFront {
	f := &crioFront{lis: &trackingListener{Listener: lis, conns: map[net.Conn]struct{}{}}}
	f.mux = cmux.New(f.lis)
	f.mux.HandleError(func(err error) bool {
		var nm cmux.ErrNotMatched
		if errors.As(err, &nm) {
			f.refused.Add(1)
		}
		return true
	})
	grpcL := f.mux.MatchWithWriters(cmux.HTTP2MatchHeaderFieldSendSettings("content-type", "application/grpc"))
	httpL := f.mux.Match(cmux.HTTP1Fast())

	info := http.NewServeMux()
	info.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(CRIOInfo)
	})
	f.http = &http.Server{Handler: info, ReadTimeout: 5 * time.Second}

	f.wg.Add(3)
	go func() { defer f.wg.Done(); _ = g.Serve(grpcL) }()
	go func() { defer f.wg.Done(); _ = f.http.Serve(httpL) }()
	go func() { defer f.wg.Done(); _ = f.mux.Serve() }()
	return f
}

// stop closes the listener and every connection it accepted, those still
// being matched included (cmux waits for them), and the HTTP/1 server.
func (f *crioFront) stop() {
	f.mux.Close()
	_ = f.lis.Close()
	f.lis.closeAll()
	_ = f.http.Close()
}

func (f *crioFront) wait() { f.wg.Wait() }

// trackingListener remembers the connections it accepted, so that stop can
// close those cmux is still reading the first request of.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for c := range l.conns {
		_ = c.(*trackedConn).Conn.Close()
	}
	clear(l.conns)
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
