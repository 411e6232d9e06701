package benchnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/server"
	"github.com/statssummary/statssummary/internal/summary"
)

// NodeName is the node name of every synthetic Summary.
const NodeName = "bench-node"

// Sizes are the node sizes of the performance budget: a small node, the
// kubelet's default max-pods, and two dense nodes; 1 and 3 containers per pod.
var Sizes = []crifake.SyntheticNode{
	{Pods: 10, ContainersPerPod: 1}, {Pods: 10, ContainersPerPod: 3},
	{Pods: 110, ContainersPerPod: 1}, {Pods: 110, ContainersPerPod: 3},
	{Pods: 500, ContainersPerPod: 1}, {Pods: 500, ContainersPerPod: 3},
	{Pods: 1000, ContainersPerPod: 1}, {Pods: 1000, ContainersPerPod: 3},
}

// SizeName names a size in benchmarks: pods=110/containers=3.
func SizeName(n crifake.SyntheticNode) string {
	return fmt.Sprintf("pods=%d/containers=%d", n.Pods, n.ContainersPerPod)
}

// FileName names a size's Summary export: pods-110-containers-3.json.
func FileName(n crifake.SyntheticNode) string {
	return fmt.Sprintf("pods-%d-containers-%d.json", n.Pods, n.ContainersPerPod)
}

// Assemble builds the Summary of the synthetic node n through the real chain.
// It is deterministic: the clocks read n.At (crifake.SyntheticAt when zero),
// there is no host provider (no logs, volumes or node fs), and the writable
// layers name a mountpoint that does not exist, so nothing of this machine's
// filesystems enters the Summary.
func Assemble(ctx context.Context, n crifake.SyntheticNode) (*summary.Assembly, error) {
	if n.At.IsZero() {
		n.At = crifake.SyntheticAt
	}
	dir, err := os.MkdirTemp("", "benchnode")
	if err != nil {
		return nil, fmt.Errorf("benchnode: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	st := crifake.Synthetic(n)
	missing := filepath.Join(dir, "no-such-filesystem")
	for _, cs := range st.ContainerStats {
		if fs := cs.GetWritableLayer().GetFsId(); fs != nil {
			fs.Mountpoint = missing
		}
	}
	srv, err := crifake.Start(filepath.Join(dir, "cri.sock"))
	if err != nil {
		return nil, fmt.Errorf("benchnode: %w", err)
	}
	defer srv.Stop()
	srv.SetState(st)

	conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cri.MaxMessageSize)))
	if err != nil {
		return nil, fmt.Errorf("benchnode: %w", err)
	}
	defer func() { _ = conn.Close() }()

	now := func() time.Time { return n.At }
	asm := summary.NewAssembler(summary.Options{
		NodeName: NodeName,
		Now:      now,
		Pods: cri.NewProvider(cri.NewClient(conn, time.Minute), cri.Options{
			Now:       now,
			StatsPath: cri.PathStrict,
		}),
	})
	a, err := asm.Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("benchnode: assembling %s: %w", SizeName(n), err)
	}
	return a, nil
}

// fixedSource answers every assembly with the same one.
type fixedSource struct{ a *summary.Assembly }

func (f fixedSource) Get(context.Context) (*summary.Assembly, error) { return f.a, nil }

// Store returns a store that holds a as its newest snapshot (and answers any
// later assembly with a again). Close it when done.
func Store(ctx context.Context, a *summary.Assembly) (*summary.Store, error) {
	s := summary.NewStore(fixedSource{a}, summary.StoreOptions{})
	if _, err := s.Get(ctx, 0); err != nil {
		s.Close()
		return nil, fmt.Errorf("benchnode: %w", err)
	}
	return s, nil
}

// SummaryJSON is the synthetic node's Summary as the JSON endpoint serves it
// (the testdata/bench export).
func SummaryJSON(ctx context.Context, n crifake.SyntheticNode) ([]byte, error) {
	a, err := Assemble(ctx, n)
	if err != nil {
		return nil, err
	}
	store, err := Store(ctx, a)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	h, err := server.NewHandler(server.Options{Store: store, MaxAge: time.Hour})
	if err != nil {
		return nil, fmt.Errorf("benchnode: %w", err)
	}
	return Body(h, false)
}
