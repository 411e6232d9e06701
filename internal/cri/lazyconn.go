package cri

import (
	"context"
	"os"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// LazyConn is a grpc.ClientConnInterface that dials the runtime's socket only
// once the socket exists. Until then every call fails at once with Unavailable,
// naming the socket, and nothing is dialled: no background reconnect loop
// fills the log while no runtime is installed. A connection that has failed
// (gRPC's TRANSIENT_FAILURE, where it waits out a reconnect backoff of up to
// two minutes) is dropped and dialled again on the next call, so the first
// call after a restarted runtime is back reaches it. It is safe for
// concurrent use.
type LazyConn struct {
	socket string
	dial   func() (*grpc.ClientConn, error)

	mu   sync.Mutex
	conn *grpc.ClientConn
}

var _ grpc.ClientConnInterface = (*LazyConn)(nil)

// NewLazyConn returns a LazyConn for the unix socket at socketPath; dial makes
// the real connection the first time a call finds the socket present.
func NewLazyConn(socketPath string, dial func() (*grpc.ClientConn, error)) *LazyConn {
	return &LazyConn{socket: socketPath, dial: dial}
}

func (l *LazyConn) get() (*grpc.ClientConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if l.conn.GetState() != connectivity.TransientFailure {
			return l.conn, nil
		}
		// The runtime went away: gRPC would fail every call until its backoff
		// ends. Start over instead (and check the socket is there again).
		_ = l.conn.Close()
		l.conn = nil
	}
	if _, err := os.Stat(l.socket); err != nil {
		return nil, status.Errorf(codes.Unavailable, "runtime socket %s: %v", l.socket, err)
	}
	conn, err := l.dial()
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial runtime socket %s: %v", l.socket, err)
	}
	l.conn = conn
	return conn, nil
}

// Invoke implements grpc.ClientConnInterface.
//
// A call made while the connection was not yet ready that fails with
// Unavailable without ever reaching the runtime (no transport carried it: the
// dial failed) is made once more on a fresh connection: the failure may be a
// dial that began before a restarted runtime's socket was back, reported to
// the first call after it is. A call that reached the runtime is never
// repeated, whatever it answered: an Unavailable the runtime itself answered
// is returned as it is. Whether the runtime was reached is what gRPC reports
// for the call (its peer), not the connection's state, which gRPC updates
// apart from the call and may still show "connecting" after an answer. CRI
// calls made through it are reads, safe to repeat.
func (l *LazyConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	conn, err := l.get()
	if err != nil {
		return err
	}
	ready := conn.GetState() == connectivity.Ready
	var reached peer.Peer
	err = conn.Invoke(ctx, method, args, reply, append(slices.Clip(opts), grpc.Peer(&reached))...)
	if err == nil || ready || reached.Addr != nil || status.Code(err) != codes.Unavailable || ctx.Err() != nil {
		return err
	}
	l.drop(conn)
	fresh, gerr := l.get()
	if gerr != nil {
		return err
	}
	return fresh.Invoke(ctx, method, args, reply, opts...)
}

// drop closes conn if it is still the current connection, so the next call
// dials afresh.
func (l *LazyConn) drop(conn *grpc.ClientConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == conn {
		_ = l.conn.Close()
		l.conn = nil
	}
}

// NewStream implements grpc.ClientConnInterface.
func (l *LazyConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	conn, err := l.get()
	if err != nil {
		return nil, err
	}
	return conn.NewStream(ctx, desc, method, opts...)
}

// Close closes the connection if one was made. The LazyConn is not used after.
func (l *LazyConn) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}
