package statssummaryreceiver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/server"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// loadConfig unmarshals a receiver section over the default config, as the
// collector does, and validates it.
func loadConfig(t *testing.T, raw map[string]any) (*Config, error) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestServerConfigDefaults(t *testing.T) {
	// No `server` section: nothing listens.
	cfg, err := loadConfig(t, map[string]any{})
	require.NoError(t, err)
	assert.False(t, cfg.Server.HasValue())

	// `server:` alone: loopback, the default port, timeouts set.
	cfg, err = loadConfig(t, map[string]any{"server": nil})
	require.NoError(t, err)
	require.True(t, cfg.Server.HasValue())
	srv := cfg.Server.Get()
	assert.Equal(t, "127.0.0.1:10265", srv.NetAddr.Endpoint)
	host, port, err := net.SplitHostPort(srv.NetAddr.Endpoint)
	require.NoError(t, err)
	assert.True(t, net.ParseIP(host).IsLoopback(), "default host %s", host)
	assert.NotContains(t, []string{"10248", "10249", "10250", "10255", "10256"}, port)
	assert.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	require.NotNil(t, srv.Keepalive.Get())
	assert.Equal(t, time.Minute, srv.Keepalive.Get().IdleTimeout)
	assert.Equal(t, time.Duration(0), srv.MaxAge, "0: the collection interval")
	assert.False(t, srv.TLS.HasValue())
	assert.False(t, srv.Auth.HasValue())

	// `enabled: false` turns it off again.
	cfg, err = loadConfig(t, map[string]any{"server": map[string]any{"enabled": false}})
	require.NoError(t, err)
	assert.False(t, cfg.Server.HasValue())

	// Fields override the defaults one by one.
	cfg, err = loadConfig(t, map[string]any{"server": map[string]any{"endpoint": "127.0.0.1:19999", "max_age": "3s"}})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:19999", cfg.Server.Get().NetAddr.Endpoint)
	assert.Equal(t, 3*time.Second, cfg.Server.Get().MaxAge)
	assert.Equal(t, 10*time.Second, cfg.Server.Get().ReadHeaderTimeout)
}

func TestServerConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		server  map[string]any
		wantErr string
	}{
		{"kubelet API port", map[string]any{"endpoint": "127.0.0.1:10250"}, "server.endpoint: port 10250 is the kubelet's API port"},
		{"kubelet read-only port", map[string]any{"endpoint": "127.0.0.1:10255"}, "port 10255 is the kubelet's read-only port"},
		{"kubelet healthz port", map[string]any{"endpoint": "localhost:10248"}, "port 10248 is the kubelet's healthz port"},
		{"kube-proxy metrics port", map[string]any{"endpoint": "127.0.0.1:10249"}, "port 10249 is kube-proxy's metrics port"},
		{"kube-proxy healthz port", map[string]any{"endpoint": "[::1]:10256"}, "port 10256 is kube-proxy's healthz port"},
		{"no port", map[string]any{"endpoint": "127.0.0.1"}, `server.endpoint: "127.0.0.1" is not host:port`},
		{"bad port", map[string]any{"endpoint": "127.0.0.1:http"}, `server.endpoint: "127.0.0.1:http" has no valid port`},
		{"port out of range", map[string]any{"endpoint": "127.0.0.1:70000"}, "has no valid port"},
		{"no read-header timeout", map[string]any{"read_header_timeout": "0s"}, "server.read_header_timeout: must be positive, got 0s"},
		{"no idle timeout", map[string]any{"keepalive": map[string]any{"idle_timeout": "0s"}}, "server.keepalive.idle_timeout: must be set and positive"},
		{"keepalive removed", map[string]any{"keepalive": map[string]any{"enabled": false}}, "server.keepalive.idle_timeout: must be set and positive"},
		{"negative max age", map[string]any{"max_age": "-1s"}, "server.max_age: must not be negative, got -1s"},
		{"unix socket needs no port", map[string]any{"endpoint": "/tmp/stats.sock", "transport": "unix"}, ""},
		{"any host is allowed when configured", map[string]any{"endpoint": "0.0.0.0:10265"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(t, map[string]any{"server": tt.server})
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// serverConfig is `server:` with the default values, listening on endpoint.
func serverConfig(t *testing.T, endpoint string, maxAge time.Duration) configoptional.Optional[ServerConfig] {
	t.Helper()
	opt := defaultServer()
	sc := opt.GetOrInsertDefault()
	sc.NetAddr.Endpoint = endpoint
	sc.MaxAge = maxAge
	return opt
}

func TestServerDisabledByDefault(t *testing.T) {
	cfg := newTestConfig(newCRI(t).Endpoint)
	s := startScraper(t, cfg, componenttest.NewNopHost(), nil)
	assert.Nil(t, s.server)
}

// TestServerDefaultBindsLoopback starts the server from the default section,
// with only the port changed to a free one, and checks where it listens.
func TestServerDefaultBindsLoopback(t *testing.T) {
	defHost, _, err := net.SplitHostPort(defaultServerEndpoint)
	require.NoError(t, err)
	cfg := newTestConfig(newCRI(t).Endpoint)
	cfg.Server = serverConfig(t, net.JoinHostPort(defHost, "0"), 0)
	s := startScraper(t, cfg, componenttest.NewNopHost(), nil)

	require.NotNil(t, s.server)
	addr, ok := s.server.addr.(*net.TCPAddr)
	require.True(t, ok, "%T", s.server.addr)
	assert.True(t, addr.IP.Equal(net.IPv4(127, 0, 0, 1)), "listens on %s", addr)

	r, err := fetch(t.Context(), http.DefaultClient, "http://"+addr.String()+server.HealthzPath, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.status)

	// Before the first scrape: 503. After it: the Summary, whose max age is
	// the collection interval (an hour here): no request assembles again.
	r, err = fetch(t.Context(), http.DefaultClient, "http://"+addr.String()+server.SummaryPath, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	_, err = s.scrape(t.Context())
	require.NoError(t, err)
	for range 3 {
		r, err = fetch(t.Context(), http.DefaultClient, "http://"+addr.String()+server.SummaryPath, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.status)
		checkSummary(t, r.body)
	}
}

// TestReceiverServesWhatItScraped runs the whole receiver (factory, scraper
// controller, server) and checks that the endpoint serves the scrape's
// assembly without asking the runtime again.
func TestReceiverServesWhatItScraped(t *testing.T) {
	cri := newCRI(t)
	cfg := newTestConfig(cri.Endpoint)
	cfg.InitialDelay = 0
	cfg.Server = serverConfig(t, "127.0.0.1:0", 0)
	sink := new(consumertest.MetricsSink)
	r, err := newMetricsReceiver(cfg, receivertest.NewNopSettings(metadata.Type), sink, scraperhelper.WithTickerChannel(make(chan time.Time)))
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.WithoutCancel(t.Context()))) })

	// The controller scrapes once at start (initial delay 0); the ticker
	// never fires.
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) > 0 }, 10*time.Second, time.Millisecond)
	sr, ok := r.(*statsReceiver)
	require.True(t, ok, "%T", r)
	require.NotNil(t, sr.scraper.server)

	got, err := fetch(t.Context(), http.DefaultClient, "http://"+sr.scraper.server.addr.String()+server.SummaryPath, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.status, "body: %s", got.body)
	checkSummary(t, got.body)
	assert.Equal(t, 1, cri.Calls("ListPodSandbox"), "the scrape's assembly was served")
}

func TestServerStartFailsOnBusyPort(t *testing.T) {
	var lc net.ListenConfig
	busy, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = busy.Close() })

	cfg := newTestConfig(newCRI(t).Endpoint)
	cfg.Server = serverConfig(t, busy.Addr().String(), 0)
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	err = s.start(t.Context(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.ErrorContains(t, err, "server: listen on "+busy.Addr().String())
	assert.Nil(t, s.conn, "the CRI connection is closed again")
	require.NoError(t, s.shutdown(t.Context()))
}

func TestServerShutdownStopsListening(t *testing.T) {
	cfg := newTestConfig(newCRI(t).Endpoint)
	cfg.Server = serverConfig(t, "127.0.0.1:0", 0)
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, s.start(t.Context(), componenttest.NewNopHost()))
	addr := s.server.addr.String()
	require.NoError(t, s.shutdown(t.Context()))

	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err == nil {
		_ = conn.Close()
	}
	assert.Error(t, err, "nothing listens on %s after shutdown", addr)
}

// tokenAuth is a server authenticator extension that admits a request bearing
// its token.
type tokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
	token string
}

var _ extensionauth.Server = (*tokenAuth)(nil)

func (a *tokenAuth) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	for _, v := range headers["Authorization"] {
		if v == "Bearer "+a.token {
			return ctx, nil
		}
	}
	return ctx, errors.New("missing or wrong bearer token")
}

// extensionHost is a host with the given extensions.
type extensionHost map[component.ID]component.Component

func (h extensionHost) GetExtensions() map[component.ID]component.Component { return h }

// selfSignedCert writes a fresh ECDSA certificate for 127.0.0.1 and its key
// into dir, and returns their paths and a pool that trusts it.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "statssummary test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServerTLSAndAuth serves over a real TLS listener with the collector's
// auth extension mechanism: no credentials, wrong ones, right ones.
func TestServerTLSAndAuth(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	authID := component.MustNewID("tokenauth")
	host := extensionHost{authID: &tokenAuth{token: "s3cret"}}

	cfg := newTestConfig(newCRI(t).Endpoint)
	cfg.Server = serverConfig(t, "127.0.0.1:0", 0)
	sc := cfg.Server.Get()
	tlsCfg := configtls.NewDefaultServerConfig()
	tlsCfg.CertFile, tlsCfg.KeyFile = certFile, keyFile
	sc.TLS = configoptional.Some(tlsCfg)
	sc.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})

	s := startScraper(t, cfg, host, nil)
	_, err := s.scrape(t.Context())
	require.NoError(t, err)

	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	base := "https://" + s.server.addr.String()

	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
	}{
		{"summary without credentials", server.SummaryPath, nil, http.StatusUnauthorized},
		{"summary with a wrong token", server.SummaryPath, http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"healthz without credentials", server.HealthzPath, nil, http.StatusUnauthorized},
		{"summary with the token", server.SummaryPath, http.Header{"Authorization": {"Bearer s3cret"}}, http.StatusOK},
		{"healthz with the token", server.HealthzPath, http.Header{"Authorization": {"Bearer s3cret"}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := fetch(t.Context(), client, base+tt.path, tt.header)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
			require.True(t, r.tls, "served over TLS")
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			switch {
			case tt.wantStatus == http.StatusUnauthorized:
				var e server.ErrorBody
				require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
				assert.Equal(t, http.StatusUnauthorized, e.Code)
				assert.Contains(t, e.Message, "missing or wrong bearer token")
			case tt.path == server.SummaryPath:
				checkSummary(t, r.body)
			}
		})
	}

	// Plain HTTP to the TLS port is refused.
	r, err := fetch(t.Context(), http.DefaultClient, "http://"+s.server.addr.String()+server.HealthzPath, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, r.status)
}

// TestServerConcurrentClientsOneAssemblyPerWindow runs 64 clients on loopback
// against the endpoint while scrapes run, over several max-age windows of a
// clock the test moves. Every response must be a valid Summary of the fixture,
// and each window must cost the runtime exactly one assembly, whoever asked
// first (counted on the CRI server).
func TestServerConcurrentClientsOneAssemblyPerWindow(t *testing.T) {
	const (
		clients           = 64
		requestsPerClient = 3
		scrapesPerWindow  = 2
		windows           = 4
		maxAge            = 10 * time.Second
	)
	cri := newCRI(t)
	clock := fakeclock.New(base.Add(time.Hour))
	cfg := newTestConfig(cri.Endpoint)
	cfg.Server = serverConfig(t, "127.0.0.1:0", maxAge)
	s := startScraper(t, cfg, componenttest.NewNopHost(), clock.Now)

	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	base := "http://" + s.server.addr.String() + server.SummaryPath

	_, err := s.scrape(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, cri.Calls("ListPodSandbox"))

	for w := 1; w <= windows; w++ {
		clock.Advance(maxAge + time.Second) // the snapshot is now stale

		var wg sync.WaitGroup
		var mu sync.Mutex
		var problems []string
		fail := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		for c := range clients {
			wg.Go(func() {
				for i := range requestsPerClient {
					url := base
					if (c+i)%2 == 1 {
						url += "?only_cpu_and_memory=true"
					}
					r, err := fetch(t.Context(), client, url, nil)
					if err != nil {
						fail("client %d: %v", c, err)
						continue
					}
					if err := validSummary(r); err != nil {
						fail("client %d request %d: %v", c, i, err)
					}
				}
			})
		}
		wg.Go(func() {
			for range scrapesPerWindow {
				md, err := s.scrape(t.Context())
				if err != nil || md.ResourceMetrics().Len() != 8 {
					fail("scrape: %d resources, error %v", md.ResourceMetrics().Len(), err)
				}
			}
		})
		wg.Wait()
		require.Empty(t, problems, "window %d", w)
		assert.Equal(t, 1+w, cri.Calls("ListPodSandbox"), "assemblies after window %d", w)
	}
}

// fetched is one answer read whole.
type fetched struct {
	status int
	header http.Header
	body   []byte
	tls    bool
}

// fetch GETs url; it is safe to call from any goroutine (it fails no test).
func fetch(ctx context.Context, client *http.Client, url string, header http.Header) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fetched{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fetched{}, err
	}
	return fetched{status: resp.StatusCode, header: resp.Header, body: b, tls: resp.TLS != nil}, nil
}

// decodeStrict decodes a Summary with unknown fields disallowed.
func decodeStrict(b []byte) (*statsapi.Summary, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var s statsapi.Summary
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the Summary")
	}
	return &s, nil
}

// validSummary checks an answer holds twoPodsState's Summary, fresh.
func validSummary(r fetched) error {
	if r.status != http.StatusOK {
		return fmt.Errorf("status %d: %s", r.status, r.body)
	}
	if age := r.header.Get("Age"); age != "0" {
		return fmt.Errorf("age %q, want 0 within the window", age)
	}
	s, err := decodeStrict(r.body)
	if err != nil {
		return err
	}
	// twoPodsState's web and db pods with two containers each, and the
	// NOTREADY-only pod "old", kept with its one running container.
	wantContainers := map[string]int{"web": 2, "db": 2, "old": 1}
	if s.Node.NodeName != "node-a" || len(s.Pods) != len(wantContainers) {
		return fmt.Errorf("node %q with %d pods, want node-a with %d", s.Node.NodeName, len(s.Pods), len(wantContainers))
	}
	for _, p := range s.Pods {
		if len(p.Containers) != wantContainers[p.PodRef.Name] || p.CPU == nil || p.Memory == nil {
			return fmt.Errorf("pod %s: %d containers, cpu %v, memory %v", p.PodRef.Name, len(p.Containers), p.CPU, p.Memory)
		}
	}
	return nil
}

func checkSummary(t *testing.T, body []byte) {
	t.Helper()
	s, err := decodeStrict(body)
	require.NoError(t, err)
	assert.Equal(t, "node-a", s.Node.NodeName)
	assert.Len(t, s.Pods, 3, "twoPodsState: web, db and the NOTREADY-only pod old")
}
