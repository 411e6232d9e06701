package cri

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PathIdentity is an answer built from the runtime's identity calls alone
// (ListPodSandbox, ListContainers) and the writable layers of its last stats
// answer: no CPU, memory, swap, network or process figure of the runtime's.
// The provider answers so between stats calls when Options.StatsEvery is set
// (see identityCache).
const PathIdentity StatsPath = "identity"

// identityCache lets a provider ask the runtime for its stats at most once per
// every, and only for identity in between.
//
// On containerd a stats call reaches every shim: each reads its container's
// cgroups and answers over ttrpc, and containerd 1.6 also reads each sandbox's
// network. At 110 pods that made the runtime spend 0.3 to 2.4 s of CPU per
// scrape (docs/performance.md, "What the node pays per scrape"), where the
// identity calls are answered from containerd's own store. When the cgroups
// describe every pod and container (runc, crun: the caller checks, see
// IdentityAnswers), what the runtime's stats add is mostly what only it
// knows — the writable layers — which change slowly; those are kept from the last answer, with the
// time the runtime measured them.
//
// A container that the last answer did not list makes the next scrape ask for
// stats again, so that a new container's writable layer is not missing for
// up to every. And identity answers are given only while the caller says the
// cgroups gave every pod and container its CPU and memory (IdentityAnswers):
// a pod whose host cgroups do not describe it — a sandboxed runtime's (Kata,
// gVisor), a cgroup not found — keeps the runtime's stats at every scrape.
type identityCache struct {
	every time.Duration

	mu sync.Mutex
	// allowed: the caller said, after the last assembly, that the cgroups
	// covered every pod and container (false until it first does).
	allowed bool
	at      time.Time // when the last stats answer came; zero: none yet
	// layers holds, by container ID, the last answer's container stats
	// stripped to their attributes and writable layer.
	layers map[string]*runtimeapi.ContainerStats
}

func newIdentityCache(every time.Duration) *identityCache {
	return &identityCache{every: every, layers: map[string]*runtimeapi.ContainerStats{}}
}

// answer returns, for the inventory's containers, the kept stats of the last
// answer, and false when the runtime must be asked again: none yet, older than
// every, or a container it did not list.
func (c *identityCache) answer(now time.Time, inv *inventory) ([]*runtimeapi.ContainerStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.allowed || c.at.IsZero() || now.Sub(c.at) >= c.every || now.Before(c.at) {
		return nil, false
	}
	return c.keptFor(inv)
}

// lastAnswer is answer whatever the kept answer's age: for a scrape whose
// stats call failed.
func (c *identityCache) lastAnswer(inv *inventory) ([]*runtimeapi.ContainerStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.allowed || c.at.IsZero() {
		return nil, false
	}
	return c.keptFor(inv)
}

// keptFor returns the kept stats of the inventory's containers, false when one
// is missing; c.mu is held.
func (c *identityCache) keptFor(inv *inventory) ([]*runtimeapi.ContainerStats, bool) {
	out := make([]*runtimeapi.ContainerStats, 0, inv.containers)
	for i := range inv.pods {
		for _, ctr := range inv.pods[i].containers {
			s, ok := c.layers[ctr.GetId()]
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
	}
	return out, true
}

// allow says whether identity answers may be given.
func (c *identityCache) allow(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.allowed = ok
}

func (c *identityCache) isAllowed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allowed
}

// keep records a stats answer's containers, replacing the last. It keeps
// copies: the answer's messages are the provider's decoder's, handed out
// again for the next answer (statsdecode.go).
func (c *identityCache) keep(now time.Time, stats []*runtimeapi.ContainerStats) {
	layers := make(map[string]*runtimeapi.ContainerStats, len(stats))
	for _, s := range stats {
		id := s.GetAttributes().GetId()
		if id == "" {
			continue
		}
		kept := &runtimeapi.ContainerStats{Attributes: s.GetAttributes(), WritableLayer: s.GetWritableLayer()}
		layers[id] = proto.Clone(kept).(*runtimeapi.ContainerStats)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.layers = now, layers
}

// keepSandboxes records a ListPodSandboxStats answer's containers.
func (c *identityCache) keepSandboxes(now time.Time, stats []*runtimeapi.PodSandboxStats) {
	var all []*runtimeapi.ContainerStats
	for _, s := range stats {
		all = append(all, s.GetLinux().GetContainers()...)
	}
	c.keep(now, all)
}

// IdentityAnswers tells a provider with Options.StatsEvery whether the
// caller's last assembly found CPU and memory for every pod and container
// outside the runtime's stats (in their cgroups): only then may the next
// scrapes ask the runtime for identity alone. Without StatsEvery it does
// nothing.
func (p *Provider) IdentityAnswers(ok bool) {
	if p.identity != nil {
		p.identity.allow(ok)
	}
}

// IdentityPlan says the provider answers from identity between stats calls
// (Options.StatsEvery is set).
func (p *Provider) IdentityPlan() bool { return p.identity != nil }
