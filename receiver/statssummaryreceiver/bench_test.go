package statssummaryreceiver

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/benchnode"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

func startBenchScraper(b testing.TB, n crifake.SyntheticNode) (*statsScraper, *crifake.Server) {
	b.Helper()
	srv := crifake.New(b)
	srv.SetState(crifake.Synthetic(n))
	cfg := newTestConfig(srv.Endpoint)
	cfg.CRI.Timeout = 30 * time.Second
	// The synthetic pods have no cgroups, so the cgroup (cAdvisor) provider has
	// nothing to add to them; left on, it reads whatever this machine runs
	// under /kubepods, at most once per second (CgroupMaxAge) however many
	// scrapes that second holds. Its cost depends on time and on the
	// neighbours, not on the scrape, so it is measured apart: internal/cadvisor
	// BenchmarkRefresh, and the steady-state run (docs/performance.md).
	cfg.Cgroups.Enabled = false
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	if err := s.start(b.Context(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.shutdown(b.Context()) })
	return s, srv
}

// BenchmarkScrape is one full scrape: CRI calls, assembly and conversion to pdata.
func BenchmarkScrape(b *testing.B) {
	for _, n := range benchnode.Sizes {
		b.Run(benchnode.SizeName(n), func(b *testing.B) {
			s, _ := startBenchScraper(b, n)
			// A node already seen is measured: the first scrape also asks
			// PodSandboxStatus once per sandbox (cri/hostnetwork.go, 0.25 CPU
			// seconds at 1000 pods) and has no rates yet, a one-off that
			// b.Loop's few iterations at 1000 pods would average in.
			if _, err := s.scrape(b.Context()); err != nil {
				b.Fatal(err)
			}
			points := 0
			b.ReportAllocs()
			report := benchnode.CPUPerOp(b)
			for b.Loop() {
				md, err := s.scrape(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if points = md.DataPointCount(); points == 0 {
					b.Fatal("empty scrape")
				}
			}
			report()
			// allocs/op ÷ datapoints/op is the allocation cost per data point
			// (docs/performance.md): it must stay flat across sizes.
			b.ReportMetric(float64(points), "datapoints/op")
		})
	}
}

// BenchmarkRawCRI is the floor of a scrape: the CRI RPCs the provider makes
// for the same node, decoded as any CRI client decodes them (the generated
// client and gRPC's proto codec), and nothing else. Synthetic nodes implement
// ListPodSandboxStats, so the provider is on the strict path: ListPodSandbox,
// ListContainers and ListPodSandboxStats (see cri.Provider.PodStats).
func BenchmarkRawCRI(b *testing.B) {
	benchmarkRawCRI(b, func(conn *grpc.ClientConn) rawCalls {
		rt := runtimeapi.NewRuntimeServiceClient(conn)
		return rawCalls{
			func(ctx context.Context) error {
				_, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
				return err
			},
			func(ctx context.Context) error {
				_, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
				return err
			},
			func(ctx context.Context) error {
				_, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
				return err
			},
		}
	})
}

// BenchmarkRawCRITrimmed is BenchmarkRawCRI through cri.Client, which decodes
// the answers without the labels and annotations the provider does not read
// (internal/cri/trim.go): the floor of what the scrape itself decodes.
func BenchmarkRawCRITrimmed(b *testing.B) {
	benchmarkRawCRI(b, func(conn *grpc.ClientConn) rawCalls {
		client := cri.NewClient(conn, 30*time.Second)
		return rawCalls{
			func(ctx context.Context) error { _, err := client.ListPodSandbox(ctx); return err },
			func(ctx context.Context) error { _, err := client.ListContainers(ctx); return err },
			func(ctx context.Context) error { _, err := client.ListPodSandboxStats(ctx); return err },
		}
	})
}

type rawCalls []func(context.Context) error

func benchmarkRawCRI(b *testing.B, calls func(*grpc.ClientConn) rawCalls) {
	for _, n := range benchnode.Sizes {
		b.Run(benchnode.SizeName(n), func(b *testing.B) {
			srv := crifake.New(b)
			srv.SetState(crifake.Synthetic(n))
			conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cri.MaxMessageSize)))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = conn.Close() })
			rpcs := calls(conn)
			b.ReportAllocs()
			report := benchnode.CPUPerOp(b)
			for b.Loop() {
				for _, rpc := range rpcs {
					if err := rpc(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
			}
			report()
		})
	}
}

// BenchmarkConvert is Summary → pdata alone, from one assembly of the node.
func BenchmarkConvert(b *testing.B) {
	for _, n := range benchnode.Sizes {
		b.Run(benchnode.SizeName(n), func(b *testing.B) {
			s, _ := startBenchScraper(b, n)
			a, err := s.assembler.Get(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			points := 0
			b.ReportAllocs()
			report := benchnode.CPUPerOp(b)
			for b.Loop() {
				md := s.converter.convert(a, now)
				if points = md.DataPointCount(); points == 0 {
					b.Fatal("no data points")
				}
			}
			report()
			b.ReportMetric(float64(points), "datapoints/op")
		})
	}
}
