package cri

import (
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListsMaxAge bounds how long the strict path's scrapes go on with the
// identity lists of an earlier one (listCache).
const ListsMaxAge = time.Minute

// listCache keeps, between the strict path's scrapes, the identity lists
// (ListPodSandbox and ListContainers) and what was decided from them — the
// inventory and each pod's hostNetwork flag — so that a scrape asks the
// runtime for ListPodSandboxStats alone while its answer agrees with them.
//
// Everything the Summary takes from the lists for an ID is fixed for that ID
// in the CRI: metadata, labels, annotations, creation time; a restarted
// container or a recreated sandbox has a new ID. What changes is the state,
// which decides what the kubelet reports (newInventory: READY sandboxes,
// RUNNING containers). The answer agrees with the lists when:
//
//   - it holds a sandbox for each READY sandbox listed and no other, once
//     each (containerd answers only for READY sandboxes: one stopped or
//     removed since is missing, one made since is new);
//   - each container it holds was listed, once, and has CPU usage exactly
//     when it was listed RUNNING (containerd answers for every container of
//     a sandbox, those without a task — created, exited — without CPU);
//   - every RUNNING container listed in a READY sandbox is in it.
//
// Otherwise, or when the lists are older than ListsMaxAge, the scrape asks
// for the lists again and decides anew, as without the cache: a scrape never
// reports from lists its own stats answer contradicts. A runtime whose
// answers differ from containerd's in these respects (a running container
// without CPU usage, a stopped sandbox answered) only loses the saving: every
// scrape lists anew. What no answer shows is bounded by ListsMaxAge.
type listCache struct {
	mu         sync.Mutex
	at         time.Time
	inv        *inventory
	hostNet    []bool
	ready      map[string]*listed // READY sandboxes by ID
	containers map[string]*listed // every listed container by ID
	running    int                // RUNNING containers in READY sandboxes
	gen        uint64             // of the last agreement check
}

// listed is a sandbox's or container's entry: running for a RUNNING
// container, seen the check that last met it.
type listed struct {
	running bool
	seen    uint64
}

// put replaces the kept lists with those of a strict scrape.
func (c *listCache) put(now time.Time, sandboxes []*runtimeapi.PodSandbox, containers []*runtimeapi.Container, inv *inventory, hostNet []bool) {
	ready := make(map[string]*listed, len(sandboxes))
	for _, sb := range sandboxes {
		if sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY && sb.GetId() != "" {
			ready[sb.GetId()] = &listed{}
		}
	}
	byID := make(map[string]*listed, len(containers))
	running := 0
	for _, ctr := range containers {
		if ctr.GetId() == "" {
			continue
		}
		l := &listed{running: ctr.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING}
		byID[ctr.GetId()] = l
		if _, ok := ready[ctr.GetPodSandboxId()]; ok && l.running {
			running++
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.inv, c.hostNet, c.ready, c.containers, c.running = now, inv, hostNet, ready, byID, running
}

// drop forgets the kept lists.
func (c *listCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inv = nil
}

// get returns the kept inventory and hostNetwork flags while they are younger
// than ListsMaxAge.
func (c *listCache) get(now time.Time) (*inventory, []bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inv == nil || now.Before(c.at) || now.Sub(c.at) >= ListsMaxAge {
		return nil, nil, false
	}
	return c.inv, c.hostNet, true
}

// agrees says whether a ListPodSandboxStats answer agrees with the kept
// lists (see listCache). inv is the inventory get returned: an answer checked
// against lists put since does not count.
func (c *listCache) agrees(inv *inventory, stats []*runtimeapi.PodSandboxStats) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inv != inv {
		return false
	}
	c.gen++
	sandboxes, running := 0, 0
	for _, s := range stats {
		sb, ok := c.ready[s.GetAttributes().GetId()]
		if !ok || sb.seen == c.gen {
			return false
		}
		sb.seen = c.gen
		sandboxes++
		for _, cs := range s.GetLinux().GetContainers() {
			l, ok := c.containers[cs.GetAttributes().GetId()]
			if !ok || l.seen == c.gen {
				return false
			}
			l.seen = c.gen
			if l.running != (cs.GetCpu().GetUsageCoreNanoSeconds() != nil) {
				return false
			}
			if l.running {
				running++
			}
		}
	}
	return sandboxes == len(c.ready) && running == c.running
}
