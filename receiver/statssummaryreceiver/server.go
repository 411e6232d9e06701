package statssummaryreceiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.uber.org/zap"

	"github.com/statssummary/statssummary/internal/server"
	"github.com/statssummary/statssummary/internal/summary"
)

// defaultServerEndpoint is where the JSON endpoint listens when `server:` is
// given without an endpoint: loopback only, on a port clear of the kubelet's
// and kube-proxy's (see reservedPorts) and of the control plane's 10257-10259.
const defaultServerEndpoint = "127.0.0.1:10265"

// Server timeouts by default: a client gets 10 s to send its request headers,
// and an idle keep-alive connection is closed after a minute.
const (
	defaultServerReadHeaderTimeout = 10 * time.Second
	defaultServerIdleTimeout       = time.Minute
)

// reservedPorts are the node ports the JSON endpoint must never take: a
// kubelet-compatible API on one of them would be mistaken for the real one.
var reservedPorts = map[int]string{
	10248: "the kubelet's healthz port",
	10249: "kube-proxy's metrics port",
	10250: "the kubelet's API port",
	10255: "the kubelet's read-only port",
	10256: "kube-proxy's healthz port",
}

// ServerConfig is the JSON endpoint: where it listens and how (TLS, auth,
// timeouts, through confighttp), and how old the Summary it serves may be.
type ServerConfig struct {
	confighttp.ServerConfig `mapstructure:",squash"`

	// MaxAge is how old the served Summary may be: a request that finds the
	// latest assembly older than this starts one fresh assembly, which every
	// concurrent request shares. 0 (the default) means the collection
	// interval. While the runtime fails, served data older than 3 × the
	// larger of max_age, the collection interval and the scrape timeout is
	// answered 503.
	MaxAge time.Duration `mapstructure:"max_age"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// defaultServer is the `server` section: absent by default, so that nothing
// listens unless asked; when present, it starts from these values.
func defaultServer() configoptional.Optional[ServerConfig] {
	hc := confighttp.NewDefaultServerConfig()
	hc.NetAddr.Endpoint = defaultServerEndpoint
	hc.ReadHeaderTimeout = defaultServerReadHeaderTimeout
	ka := confighttp.NewDefaultKeepaliveServerConfig()
	ka.IdleTimeout = defaultServerIdleTimeout
	hc.Keepalive = configoptional.Some(ka)
	return configoptional.Default(ServerConfig{ServerConfig: hc})
}

// Validate checks the endpoint and the timeouts; each error names its field.
func (c *ServerConfig) Validate() error {
	var errs []error
	switch c.NetAddr.Transport {
	case "", "tcp", "tcp4", "tcp6":
		if err := validateServerEndpoint(c.NetAddr.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("server.endpoint: %w", err))
		}
	}
	if c.ReadHeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("server.read_header_timeout: must be positive, got %s", c.ReadHeaderTimeout))
	}
	if ka := c.Keepalive.Get(); ka == nil || ka.IdleTimeout <= 0 {
		errs = append(errs, errors.New("server.keepalive.idle_timeout: must be set and positive, so that idle connections are closed"))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("server.max_age: must not be negative, got %s", c.MaxAge))
	}
	return errors.Join(errs...)
}

func validateServerEndpoint(endpoint string) error {
	_, portStr, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", endpoint, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("%q has no valid port", endpoint)
	}
	if what, ok := reservedPorts[port]; ok {
		return fmt.Errorf("port %d is %s; choose another (default %s)", port, what, defaultServerEndpoint)
	}
	return nil
}

// jsonServer is the running JSON endpoint.
type jsonServer struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{} // closed when Serve has returned
}

// startJSONServer listens as cfg says and serves the store's snapshots until
// shutdown. maxAge 0 in cfg has already been resolved by the caller into
// maxAge; served data older than staleAfter is answered 503. A failure of the
// server after Start is reported as a fatal component status, not returned.
func startJSONServer(ctx context.Context, cfg ServerConfig, maxAge, staleAfter time.Duration, store *summary.Store, now func() time.Time, host component.Host, set component.TelemetrySettings) (*jsonServer, error) {
	h, err := server.NewHandler(server.Options{Store: store, MaxAge: maxAge, StaleAfter: staleAfter, Now: now})
	if err != nil {
		return nil, err
	}
	srv, err := cfg.ToServer(ctx, host.GetExtensions(), set, h, confighttp.WithErrorHandler(server.WriteError))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", cfg.NetAddr.Endpoint, err)
	}
	if !isLoopback(ln.Addr()) && !cfg.TLS.HasValue() {
		set.Logger.Warn("the stats summary JSON endpoint listens beyond loopback without TLS",
			zap.String("address", ln.Addr().String()))
	}
	set.Logger.Info("serving the stats summary JSON endpoint",
		zap.String("address", ln.Addr().String()),
		zap.Bool("tls", cfg.TLS.HasValue()),
		zap.Duration("max_age", maxAge),
		zap.Duration("stale_after", staleAfter))

	j := &jsonServer{srv: srv, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(j.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(fmt.Errorf("stats summary JSON endpoint: %w", err)))
		}
	}()
	return j, nil
}

// shutdown stops accepting, lets the requests in progress finish until ctx
// ends (then closes their connections), and waits for the server's goroutine.
func (j *jsonServer) shutdown(ctx context.Context) error {
	err := j.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, j.srv.Close())
	}
	<-j.done
	if err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true // a unix socket is local
	}
	return tcp.IP.IsLoopback()
}
