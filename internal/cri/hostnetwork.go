package cri

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A hostNetwork pod shares the node's network namespace, and has no network
// of its own to report: the kubelet reports no pod network for it. CRI-O
// nevertheless lists the node's interfaces (eth0, lo, ifb0, …) in such a
// sandbox's stats, and a cgroup-side reading of the pod's network namespace
// would find the node's too; either would credit each hostNetwork pod with
// the node's traffic. Whether a sandbox is hostNetwork is only in its
// PodSandboxStatus (linux.namespaces.options.network == NODE), which never
// changes for a sandbox: it is asked once per sandbox ID and remembered while
// the sandbox is listed.

// netnsCache remembers, by sandbox ID, whether a sandbox is in the node's
// network namespace. It is safe for concurrent use.
type netnsCache struct {
	mu   sync.Mutex
	gen  uint64
	byID map[string]netnsEntry
}

type netnsEntry struct {
	node bool
	seen uint64 // the generation of the last inventory that listed it
}

// statusConcurrency bounds the PodSandboxStatus calls in flight.
const statusConcurrency = 4

func newNetnsCache() *netnsCache { return &netnsCache{byID: map[string]netnsEntry{}} }

// hostNetwork says, for each pod of inv in order, whether its sandbox shares
// the node's network namespace. Sandboxes not yet known are asked with
// PodSandboxStatus, one call each, statusConcurrency at a time; a sandbox the runtime no longer knows
// (NotFound: removed since it was listed) counts as not hostNetwork and is
// asked again if listed again. Sandboxes no longer in the inventory are
// forgotten. Any other error of PodSandboxStatus fails the call, as any CRI
// error fails a scrape's pod stats.
func (c *netnsCache) hostNetwork(ctx context.Context, client *Client, inv *inventory) ([]bool, error) {
	out := make([]bool, len(inv.pods))
	var missing []int
	c.mu.Lock()
	c.gen++
	gen := c.gen
	for i := range inv.pods {
		id := inv.pods[i].sandbox.GetId()
		e, ok := c.byID[id]
		if !ok {
			missing = append(missing, i)
			continue
		}
		e.seen = gen
		c.byID[id] = e
		out[i] = e.node
	}
	c.mu.Unlock()

	// A few at a time: the first scrape of a dense node asks for every
	// sandbox (1000 calls cost about a quarter of a CPU second, client and
	// runtime together).
	known := make([]bool, len(missing)) // the runtime answered for missing[k]
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statusConcurrency)
	for k, i := range missing {
		g.Go(func() error {
			st, err := client.PodSandboxStatus(gctx, inv.pods[i].sandbox.GetId())
			if status.Code(err) == codes.NotFound {
				return nil
			}
			if err != nil {
				return err
			}
			out[i] = st.GetLinux().GetNamespaces().GetOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
			known[k] = true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for k, i := range missing {
		if known[k] {
			c.byID[inv.pods[i].sandbox.GetId()] = netnsEntry{node: out[i], seen: gen}
		}
	}
	// An entry a later inventory listed has a later generation: it stays.
	for id, e := range c.byID {
		if e.seen < gen {
			delete(c.byID, id)
		}
	}
	return out, nil
}

// knows says whether every pod of inv has its sandbox's network remembered.
func (c *netnsCache) knows(inv *inventory) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range inv.pods {
		if _, ok := c.byID[inv.pods[i].sandbox.GetId()]; !ok {
			return false
		}
	}
	return true
}

// len is the number of sandboxes remembered.
func (c *netnsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// PodSandboxStatus returns the status of one sandbox (not verbose), without
// its labels and annotations (see trim.go); its error names the sandbox.
func (c *Client) PodSandboxStatus(ctx context.Context, sandboxID string) (*runtimeapi.PodSandboxStatus, error) {
	resp, err := call(ctx, c, "PodSandboxStatus "+sandboxID, c.runtime.PodSandboxStatus, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandboxID}, trimSandboxStatus)
	return resp.GetStatus(), err
}
