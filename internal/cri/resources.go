package cri

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A container's resources — CPU quota and period, CPU shares, memory limit,
// as the kubelet asked the runtime to set them — are in its ContainerStatus
// (status.resources.linux; containerd 1.6 as Debian ships it and 2.x answer
// them, and update them on UpdateContainerResources, the in-place resize).
// One ContainerStatus costs about 0.25 ms of CPU here, client side: asked for
// every container on every scrape it would cost more than the scrape, so the
// answer is kept per container ID and asked again only when the caller's
// token for that container changes (the summary passes the container
// cgroup's limits: they change on a resize).

// Resources are a container's resources as the runtime reports them. Zero
// fields are unset: no quota, no shares, no memory limit.
type Resources struct {
	CPUPeriod, CPUQuota int64 // microseconds
	CPUShares           int64
	MemoryLimit         int64 // bytes
}

// ResourceToken is the caller's view of a container's resources: a different
// token asks the runtime again.
type ResourceToken [5]uint64

// ResourceQuery asks for the resources of container ID.
type ResourceQuery struct {
	ID    string
	Token ResourceToken
}

// ResourceAnswer is what the runtime told of a container's resources; Known
// is false when it gave none (an older runtime, a container it no longer
// knows, a failed call).
type ResourceAnswer struct {
	Resources Resources
	Known     bool
}

// resourceCache keeps, by container ID, the last ContainerStatus resources.
// It is safe for concurrent use.
type resourceCache struct {
	mu   sync.Mutex
	gen  uint64
	byID map[string]resourceEntry
	// unimplementedAt: the runtime answered ContainerStatus Unimplemented
	// then; it is not asked again for resourceRecheck.
	unimplementedAt time.Time
}

type resourceEntry struct {
	token  ResourceToken
	answer ResourceAnswer
	// retries counts the answers that did not change although the token
	// did: the runtime may update a container's status after its cgroup,
	// so a token change is asked again, up to resourceRetries scrapes.
	retries int
	seen    uint64
}

// resourceRecheck is how long a runtime that lacks ContainerStatus is not
// asked again (it may be upgraded in place).
const resourceRecheck = 10 * time.Minute

// resourceRetries is how many scrapes in a row a token change with an
// unchanged answer is asked again before the answer is taken.
const resourceRetries = 3

func newResourceCache() *resourceCache { return &resourceCache{byID: map[string]resourceEntry{}} }

// ContainerResources answers each query, parallel to queries: from the cache
// when the container's token is the one last asked with, else with one
// ContainerStatus (statusConcurrency at a time, bounded by the client's
// timeout each). Containers not queried are forgotten. A failed call leaves
// that container unknown this time and is asked again next time; it never
// fails the others.
func (p *Provider) ContainerResources(ctx context.Context, queries []ResourceQuery) []ResourceAnswer {
	c := p.resources
	out := make([]ResourceAnswer, len(queries))
	var ask []int
	now := p.opts.Now()
	c.mu.Lock()
	c.gen++
	gen := c.gen
	skip := !c.unimplementedAt.IsZero() && now.Sub(c.unimplementedAt) < resourceRecheck
	for i, q := range queries {
		e, ok := c.byID[q.ID]
		if ok {
			e.seen = gen
			c.byID[q.ID] = e
			out[i] = e.answer
		}
		if (!ok || e.token != q.Token) && !skip {
			ask = append(ask, i)
		}
	}
	c.mu.Unlock()

	got := make([]*runtimeapi.ContainerResources, len(ask))
	ok := make([]bool, len(ask))
	unimplemented := false
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statusConcurrency)
	for k, i := range ask {
		g.Go(func() error {
			st, err := p.client.ContainerStatus(gctx, queries[i].ID)
			switch {
			case status.Code(err) == codes.Unimplemented:
				mu.Lock()
				unimplemented = true
				mu.Unlock()
			case err != nil:
				// NotFound (removed since listed), a timeout: unknown
				// this time.
			default:
				got[k], ok[k] = st.GetResources(), true
			}
			return nil
		})
	}
	_ = g.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	if unimplemented {
		c.unimplementedAt = now
	}
	for k, i := range ask {
		if !ok[k] {
			continue
		}
		q := queries[i]
		a := resourceAnswer(got[k])
		e, had := c.byID[q.ID]
		switch {
		case had && a == e.answer && e.retries < resourceRetries:
			// The token changed, the answer did not (yet): ask again.
			e.retries++
		default:
			e.token, e.retries = q.Token, 0
		}
		e.answer, e.seen = a, gen
		c.byID[q.ID] = e
		out[i] = a
	}
	for id, e := range c.byID {
		if e.seen < gen {
			delete(c.byID, id)
		}
	}
	return out
}

// resourceAnswer converts a ContainerStatus' resources; a runtime that gives
// no Linux resources (or all zero) gives nothing known.
func resourceAnswer(r *runtimeapi.ContainerResources) ResourceAnswer {
	l := r.GetLinux()
	res := Resources{CPUPeriod: l.GetCpuPeriod(), CPUQuota: l.GetCpuQuota(), CPUShares: l.GetCpuShares(), MemoryLimit: l.GetMemoryLimitInBytes()}
	return ResourceAnswer{Resources: res, Known: res != Resources{}}
}

// ContainerStatus returns the status of one container (not verbose),
// without its labels, annotations and mounts (see trim.go); its error names
// the container.
func (c *Client) ContainerStatus(ctx context.Context, containerID string) (*runtimeapi.ContainerStatus, error) {
	resp, err := call(ctx, c, "ContainerStatus "+containerID, c.runtime.ContainerStatus, &runtimeapi.ContainerStatusRequest{ContainerId: containerID}, trimContainerStatus)
	return resp.GetStatus(), err
}
