package statssummaryreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/podmeta"
	"github.com/statssummary/statssummary/internal/server"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/convert"
)

// nodeNameEnv is read when node_name is not configured (set it from the
// downward API's spec.nodeName in a DaemonSet).
const nodeNameEnv = "K8S_NODE_NAME"

// statsScraper connects to the runtime in start, assembles a Summary per scrape
// and converts it to metrics.
type statsScraper struct {
	cfg      *Config
	settings receiver.Settings
	logger   *zap.Logger

	conn      *cri.LazyConn
	providers *providers // cgroup and host providers (providers.go)
	// podMeta is the optional pod metadata from the API server (k8s_api,
	// podmeta.go); nil when off.
	podMeta   *podmeta.Watcher
	assembler *summary.Assembler
	converter *convert.Converter
	telemetry *scrapeTelemetry
	failing   bool // the last scrape had a source error

	// stopCtx ends when the receiver shuts down; scrapes and the store's
	// assemblies derive from it so that shutdown cancels CRI calls in flight.
	stopCtx       context.Context
	cancelScrapes context.CancelFunc

	// store keeps the assemblies that the scrapes and the JSON endpoint share.
	store  *summary.Store
	server *jsonServer // nil unless `server` is configured
	// now is the store's and the CRI provider's clock; nil means time.Now
	// (tests set a fake one).
	now func() time.Time
}

func newStatsScraper(cfg *Config, set receiver.Settings) *statsScraper {
	stopCtx, stop := context.WithCancel(context.Background())
	return &statsScraper{cfg: cfg, settings: set, logger: set.Logger, stopCtx: stopCtx, cancelScrapes: stop}
}

func (s *statsScraper) start(ctx context.Context, host component.Host) error {
	nodeName, err := resolveNodeName(s.cfg.NodeName)
	if err != nil {
		return err
	}
	endpoint, err := s.resolveEndpoint()
	if err != nil {
		return err
	}
	if s.telemetry, err = newScrapeTelemetry(s.settings.TelemetrySettings); err != nil {
		return fmt.Errorf("receiver telemetry: %w", err)
	}
	grpcCfg := criClientConfig(endpoint)
	extensions, telemetry := host.GetExtensions(), s.settings.TelemetrySettings
	s.conn = cri.NewLazyConn(cri.SocketPath(endpoint), func() (*grpc.ClientConn, error) {
		// The dial is non-blocking: ctx only carries values here, not a deadline.
		return grpcCfg.ToClientConn(context.WithoutCancel(ctx), extensions, telemetry,
			configgrpc.WithGrpcDialOption(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cri.MaxMessageSize))))
	})
	client := cri.NewClient(s.conn, s.cfg.CRI.Timeout)
	statsPath, err := cri.ParseStatsPath(s.cfg.CRI.StatsPath)
	if err != nil {
		return fmt.Errorf("cri.stats_path: %w", err)
	}
	if s.providers, err = startProviders(s.cfg, cri.SocketPath(endpoint), s.logger); err != nil {
		return err
	}
	// Container logs are measured by the host provider's walker on its log
	// period (cri.pod_logs_dir); the runtime provider never reads them.
	criOpts := cri.Options{
		Logger:    s.logger,
		StatsPath: statsPath,
		Now:       s.now,
	}
	if s.providers.mode != summary.ModeCRI {
		// The identity plan: while the cgroups describe every pod and
		// container, the runtime's stats only for what they lack
		// (cri.stats_interval; summary.IdentityGate).
		criOpts.StatsEvery = s.cfg.CRI.StatsInterval
	}
	criProvider := cri.NewProvider(client, criOpts)
	assemblerOpts := summary.Options{
		NodeName:  nodeName,
		Pods:      criProvider,
		RuntimeFs: criProvider,
		Extras:    extrasFor(s.cfg),
		Resources: criProvider,
	}
	if s.podMeta = startPodMetadata(s.cfg.K8sAPI, nodeName, s.logger); s.podMeta != nil {
		// Claims name persistent volumes; PodMetadata gives the memory
		// requests (and the specs of containers the node cannot read).
		assemblerOpts.Claims = s.podMeta
		assemblerOpts.PodMetadata = s.podMeta
	}
	s.assembler = summary.NewAssembler(s.providers.options(assemblerOpts))
	s.converter = convert.New(s.cfg.MetricsBuilderConfig, s.cfg.convertGroups(), s.settings)
	s.store = summary.NewStore(s.assembler, summary.StoreOptions{Now: s.now, Timeout: assemblyTimeout(s.scrapeTimeout()), Context: s.stopCtx})
	if srvCfg := s.cfg.Server.Get(); srvCfg != nil {
		maxAge := srvCfg.MaxAge
		if maxAge == 0 {
			maxAge = s.cfg.CollectionInterval
		}
		// Three windows without the runtime's stats, whether requests
		// (max_age) or scrapes (the interval) refresh it, and never less
		// than three times what an assembly may take.
		staleAfter := server.DefaultStaleFactor * max(maxAge, s.cfg.CollectionInterval, s.scrapeTimeout())
		s.server, err = startJSONServer(ctx, *srvCfg, maxAge, staleAfter, s.store, s.now, host, telemetry)
		if err != nil {
			// Undo what started: the store, the providers, the connection.
			_ = s.shutdown(ctx)
			return err
		}
	}
	s.logger.Info("stats_summary receiver started",
		zap.String("node_name", nodeName),
		zap.String("cri_endpoint", endpoint),
		zap.String("cri_stats_path", string(statsPath)),
		// 0: the runtime's stats at every scrape (no identity plan).
		zap.Duration("cri_stats_interval", criOpts.StatsEvery),
		zap.Duration("collection_interval", s.cfg.CollectionInterval))
	return nil
}

// resolveEndpoint returns the configured endpoint or the first usual socket that
// exists. A missing socket is not fatal: the runtime may come up later, and
// every scrape looks for it again (without dialling until it exists). It is
// said once, here, naming the socket.
func (s *statsScraper) resolveEndpoint() (string, error) {
	if s.cfg.CRI.Endpoint == "" {
		endpoint, found := cri.DetectEndpoint(cri.DefaultEndpoints)
		if !found {
			s.logger.Warn("no container runtime socket found; scrapes will keep trying the first one until the runtime appears",
				zap.String("socket", cri.SocketPath(endpoint)),
				zap.Strings("tried", cri.DefaultEndpoints))
		}
		return endpoint, nil
	}
	endpoint, err := cri.NormalizeEndpoint(s.cfg.CRI.Endpoint)
	if err != nil {
		return "", fmt.Errorf("cri.endpoint: %w", err)
	}
	if _, err := os.Stat(cri.SocketPath(endpoint)); err != nil {
		s.logger.Warn("container runtime socket not reachable; scrapes will keep trying it",
			zap.String("socket", cri.SocketPath(endpoint)), zap.Error(err))
	}
	return endpoint, nil
}

// criClientConfig is the gRPC client for a local CRI socket: no TLS and no
// keepalive pings (runtimes reject frequent pings with GOAWAY).
func criClientConfig(endpoint string) configgrpc.ClientConfig {
	cc := configgrpc.NewDefaultClientConfig()
	cc.Endpoint = endpoint
	cc.TLS.Insecure = true
	cc.Keepalive = configoptional.None[configgrpc.KeepaliveClientConfig]()
	return cc
}

// scrapeTimeout is how long one scrape may take (the controller's timeout, else
// the collection interval); it also bounds an assembly the JSON endpoint starts.
func (s *statsScraper) scrapeTimeout() time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	return s.cfg.CollectionInterval
}

// assemblyTimeout bounds one assembly a little below the scrape's own
// deadline, so that a slow runtime ends the assembly first: the scrape then
// reports which call was cut short (a partial scrape, counted), rather than
// only that its deadline passed while it waited.
func assemblyTimeout(scrape time.Duration) time.Duration {
	return scrape - scrape/10
}

func resolveNodeName(configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if v := os.Getenv(nodeNameEnv); v != "" {
		return v, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("node_name: not set, %s is empty and the host name is unknown: %w", nodeNameEnv, err)
	}
	return h, nil
}

func (s *statsScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	started := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopCtx, cancel)()
	// Through the store: the JSON endpoint serves what the scrape assembled,
	// and an assembly a request started at this moment is joined, not repeated.
	// The scrape runs a new assembly itself: the store's timeout ends it
	// before the scrape's own deadline (assemblyTimeout), and Shutdown ends
	// it through stopCtx, the store's parent.
	snap, err := s.store.GetInCaller(ctx, 0)
	if err != nil {
		// The scrape ended before the assembly: nothing was gathered, and
		// it still counts as a failed source.
		s.telemetry.record(ctx, started, nil)
		s.noteHealth(err)
		return pmetric.NewMetrics(), scrapererror.NewPartialScrapeError(err, 1)
	}
	a, err := snap.Assembly, snap.Err
	md := s.converter.Convert(a, started)
	if s.podMeta != nil {
		setPodLabels(md, s.podMeta)
	}
	s.telemetry.record(ctx, started, err)
	s.noteHealth(err)
	if err != nil {
		// What the healthy sources gave is still emitted.
		return md, scrapererror.NewPartialScrapeError(err, countSourceErrors(err))
	}
	return md, nil
}

// noteHealth logs when scrapes start failing and when they recover, once per
// change; the failing scrapes themselves are reported by the scraper helper.
func (s *statsScraper) noteHealth(err error) {
	switch {
	case err != nil && !s.failing:
		s.failing = true
		s.logger.Warn("stats sources failing; scrapes are partial until they recover", zap.Error(err))
	case err == nil && s.failing:
		s.failing = false
		s.logger.Info("stats sources recovered")
	}
}

// countSourceErrors counts the failed sources in an assembly error.
func countSourceErrors(err error) int {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return len(joined.Unwrap())
	}
	return 1
}

func (s *statsScraper) shutdown(ctx context.Context) error {
	s.cancelScrapes()
	if s.telemetry != nil {
		// Kept, not cleared: a scrape cancelled by this shutdown may still record.
		s.telemetry.shutdown()
	}
	var errs []error
	// The store first: an assembly in flight ends, and so do the requests
	// waiting for it.
	if s.store != nil {
		s.store.Close()
	}
	// Then the cgroup and host providers (providers.go): no assembly uses them
	// any more.
	s.providers.stop()
	s.providers = nil
	if s.podMeta != nil {
		s.podMeta.Stop()
		s.podMeta = nil
	}
	if s.server != nil {
		errs = append(errs, s.server.shutdown(ctx))
		s.server = nil
	}
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
		s.conn = nil
	}
	return errors.Join(errs...)
}
