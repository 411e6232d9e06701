package cri

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/opencontainers/cgroups"
	"go.uber.org/zap"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Options configure a Provider. The zero value is usable.
type Options struct {
	// Logger receives the stats path chosen and best-effort failures
	// (statfs). No logging when nil.
	Logger *zap.Logger
	// StatsPath forces the strict or the partial path; PathAuto (or "")
	// detects it.
	StatsPath StatsPath
	// Now is the clock used for samples the runtime left without a timestamp
	// and for purging the rate cache; time.Now when nil.
	Now func() time.Time
	// RatePurgeAfter is how long a container's or pod's CPU samples are kept
	// after it was last seen; DefaultRatePurgeAfter when ≤ 0.
	RatePurgeAfter time.Duration
	// CgroupVersion is the node's cgroup version (1 or 2), which decides
	// some of the zeros a runtime sends unmeasured (runtimes.go); 0 detects it.
	CgroupVersion int
	// StatsEvery, when positive, asks the runtime for its stats at most once
	// per StatsEvery (and when a container appears that its last answer did
	// not list); the scrapes in between ask only for identity and carry the
	// last answer's writable layers, with no CPU, memory or other figure of
	// the runtime's (PathIdentity). For a caller that takes those from the
	// cgroups (mode: cadvisor). Zero asks at every scrape.
	StatsEvery time.Duration
}

// Provider builds pod and container stats from the runtime's answers. It is
// safe for concurrent use: several readers may assemble at once.
type Provider struct {
	client    *Client
	opts      Options
	paths     *pathDetector
	rates     *rateCache
	netns     *netnsCache
	ident     *runtimeIdentity
	resources *resourceCache
	identity  *identityCache // nil unless Options.StatsEvery > 0
	lists     listCache      // the strict path's identity lists between scrapes
	imageFs   imageFsCache   // the last ImageFsInfo answer
	// decoder decodes the ListPodSandboxStats answers, one PodStats call
	// after another (statsdecode.go); a call takes it and puts it back, a
	// concurrent one decodes into a decoder of its own.
	decoder atomic.Pointer[statsDecoder]
}

// NewProvider returns a provider that asks the runtime through client.
func NewProvider(client *Client, opts Options) *Provider {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.StatsPath == "" {
		opts.StatsPath = PathAuto
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RatePurgeAfter <= 0 {
		opts.RatePurgeAfter = DefaultRatePurgeAfter
	}
	if opts.CgroupVersion == 0 {
		opts.CgroupVersion = 1
		if cgroups.IsCgroup2UnifiedMode() {
			opts.CgroupVersion = 2
		}
	}
	ident := &runtimeIdentity{}
	var identity *identityCache
	if opts.StatsEvery > 0 {
		identity = newIdentityCache(opts.StatsEvery)
	}
	return &Provider{
		identity:  identity,
		client:    client,
		opts:      opts,
		paths:     &pathDetector{forced: opts.StatsPath, logger: opts.Logger, now: opts.Now, runtime: ident},
		rates:     newRateCache(),
		netns:     newNetnsCache(),
		ident:     ident,
		resources: newResourceCache(),
	}
}

// Path returns the stats path in use: PathStrict or PathPartial, or "" until
// the first assembly has found out.
func (p *Provider) Path() StatsPath { return p.paths.path() }

// ContainerKey names a container within the Summary: its pod's UID and its name.
type ContainerKey struct {
	PodUID string
	Name   string
}

// ContainerInfo is what the runtime tells of a container beyond what the Summary
// can hold.
type ContainerInfo struct {
	// ID is the runtime's container ID.
	ID string
	// Attempt is the container's restart attempt as the kubelet numbered it.
	Attempt uint32
	// SandboxID is the runtime's ID of the container's pod sandbox.
	SandboxID string
}

// ContainerInfos holds the runtime's identity of the containers of a list of
// Summary pods: [i][j] is that of pods[i].Containers[j]. It parallels the pods
// instead of being a map by pod UID and name, so that neither the provider nor
// its readers hash two strings per container on the scrape path.
type ContainerInfos [][]ContainerInfo

// Of returns the info of pods[pod].Containers[container], if there is one.
func (c ContainerInfos) Of(pod, container int) (ContainerInfo, bool) {
	if pod < 0 || pod >= len(c) || container < 0 || container >= len(c[pod]) {
		return ContainerInfo{}, false
	}
	return c[pod][container], true
}

// Find looks a container up by its key among pods, the pods c parallels: a
// linear search, for readers that hold no indices.
func (c ContainerInfos) Find(pods []statsapi.PodStats, key ContainerKey) (ContainerInfo, bool) {
	for i := range pods {
		if pods[i].PodRef.UID != key.PodUID {
			continue
		}
		for j := range pods[i].Containers {
			if pods[i].Containers[j].Name == key.Name {
				return c.Of(i, j)
			}
		}
	}
	return ContainerInfo{}, false
}

// Len is the number of containers c holds.
func (c ContainerInfos) Len() int {
	n := 0
	for _, p := range c {
		n += len(p)
	}
	return n
}

// PodStatsResult is the provider's answer: Summary pod stats, and the runtime's
// identity of each container in them.
type PodStatsResult struct {
	Pods []statsapi.PodStats
	// Containers parallels Pods: Containers[i][j] is Pods[i].Containers[j]'s.
	Containers ContainerInfos
	// Path is the stats path this answer was read through.
	Path StatsPath
	// HostNetwork parallels Pods: HostNetwork[i] says Pods[i] shares the
	// node's network namespace (a hostNetwork pod). Such a pod has no
	// network of its own: Pods[i].Network is nil, and no other source may
	// fill it (its network namespace is the node's).
	HostNetwork []bool
}

// PodStats lists the pods on the node with their containers' stats. Any CRI
// error fails the call (a CRI error is never a reason to report fewer pods):
// the inventory and the stats must come from the same moment to be consistent.
// Filesystem measurements (statfs of the writable layer's filesystem) are best
// effort: a failure there leaves those fields unset and is logged. Container
// log usage is not the runtime's: the host provider measures it.
func (p *Provider) PodStats(ctx context.Context) (PodStatsResult, error) {
	// The answer's messages are read only during this call: the result
	// holds copies, and so does the identity plan (identityCache.keep).
	d := p.decoder.Swap(nil)
	if d == nil {
		d = new(statsDecoder)
	}
	defer p.decoder.Store(d)

	res, asked, ok := p.withKeptLists(ctx, d)
	if ok {
		return res, nil
	}

	sandboxes, err := p.client.ListPodSandbox(ctx)
	if err != nil {
		p.paths.noteError(err)
		return PodStatsResult{}, err
	}
	containers, err := p.client.ListContainers(ctx)
	if err != nil {
		p.paths.noteError(err)
		return PodStatsResult{}, err
	}
	inv := newInventory(sandboxes, containers)
	hostNet, err := p.netns.hostNetwork(ctx, p.client, inv)
	if err != nil {
		p.paths.noteError(err)
		return PodStatsResult{}, err
	}
	zeros := p.runtimeZeros(ctx)

	if p.identity != nil {
		if kept, ok := p.identity.answer(p.opts.Now(), inv); ok {
			return p.identityAnswer(inv, zeros, kept, hostNet), nil
		}
	}
	// Between identity answers the runtime's stats are asked for what the
	// cgroups lack, the writable layers: ListContainerStats has them, and
	// costs the runtime less than ListPodSandboxStats (containerd 1.6 answers
	// it from its cache, not from every shim).
	layersOnly := p.identity != nil && p.identity.isAllowed()
	strict := false
	if !layersOnly {
		var err error
		if strict, err = p.paths.tryStrict(ctx, p.client); err != nil {
			return PodStatsResult{}, err
		}
	}
	if strict {
		if asked == nil {
			stats, err := p.client.listPodSandboxStatsInto(ctx, d)
			asked = &strictCall{stats: stats, err: err}
		}
		switch {
		case asked.err == nil:
			p.paths.strictWorked()
			res = p.strictAnswer(inv, zeros, asked.stats, hostNet)
			// Lists with a sandbox whose network is not known yet (its
			// status was NotFound) are not kept: it is asked again.
			if p.listsUsable() && p.netns.knows(inv) {
				p.lists.put(p.opts.Now(), sandboxes, containers, inv, hostNet)
			}
		case p.paths.strictFailed(ctx, p.client, asked.err):
			strict = false // the runtime lacks it: partial path below
		default:
			return PodStatsResult{}, asked.err
		}
	}
	if !strict {
		stats, err := p.client.ListContainerStats(ctx)
		if err != nil {
			p.paths.noteError(err)
			if layersOnly && ctx.Err() == nil {
				// The layers' refresh failed (a dense node's runtime can
				// take longer than cri.timeout to ask every shim): the
				// identity answered, so the scrape carries the last
				// layers, older, and the next one asks again.
				if kept, ok := p.identity.lastAnswer(inv); ok {
					p.opts.Logger.Debug("cri: refreshing the writable layers failed; the last ones are kept", zap.Error(err))
					return p.identityAnswer(inv, zeros, kept, hostNet), nil
				}
			}
			return PodStatsResult{}, err
		}
		res = p.newAssembly(inv, zeros).fromContainerStats(stats)
		if p.identity != nil {
			p.identity.keep(p.opts.Now(), stats)
		}
	}
	return p.finish(res, hostNet), nil
}

// strictCall is a ListPodSandboxStats call already made: its answer or error.
type strictCall struct {
	stats []*runtimeapi.PodSandboxStats
	err   error
}

// withKeptLists answers a strict scrape from the identity lists of an
// earlier one while the runtime's stats answer agrees with them (listCache).
// Otherwise it returns the stats call it made, if it made one, for the
// scrape to use with fresh lists (an error is judged there, as on every
// strict scrape; the kept lists are dropped).
func (p *Provider) withKeptLists(ctx context.Context, d *statsDecoder) (PodStatsResult, *strictCall, bool) {
	if !p.listsUsable() {
		return PodStatsResult{}, nil, false
	}
	inv, hostNet, ok := p.lists.get(p.opts.Now())
	if !ok {
		return PodStatsResult{}, nil, false
	}
	stats, err := p.client.listPodSandboxStatsInto(ctx, d)
	if err == nil && p.lists.agrees(inv, stats) {
		p.paths.strictWorked()
		return p.finish(p.strictAnswer(inv, p.runtimeZeros(ctx), stats, hostNet), hostNet), nil, true
	}
	if err != nil {
		p.lists.drop()
	}
	return PodStatsResult{}, &strictCall{stats: stats, err: err}, false
}

// listsUsable says whether scrapes may go on with earlier identity lists: on
// the strict path, found or forced, when the identity plan does not answer
// (it needs the lists at every scrape, having no stats answer to check them
// against).
func (p *Provider) listsUsable() bool {
	return p.paths.path() == PathStrict && (p.identity == nil || !p.identity.isAllowed())
}

// runtimeZeros is what this runtime sends as zeros for fields it does not
// measure (runtimes.go).
func (p *Provider) runtimeZeros(ctx context.Context) unmeasured {
	return unmeasuredFor(p.ident.get(ctx, p.client, p.opts.Now()), p.opts.CgroupVersion)
}

// strictAnswer assembles a ListPodSandboxStats answer and keeps its writable
// layers for the identity plan's answers.
func (p *Provider) strictAnswer(inv *inventory, zeros unmeasured, stats []*runtimeapi.PodSandboxStats, hostNet []bool) PodStatsResult {
	res := p.newAssembly(inv, zeros).fromSandboxStats(stats, hostNet)
	if p.identity != nil {
		p.identity.keepSandboxes(p.opts.Now(), stats)
	}
	return res
}

// identityAnswer builds an answer from the inventory and the kept stats of
// an identityCache (writable layers only): PathIdentity.
func (p *Provider) identityAnswer(inv *inventory, zeros unmeasured, kept []*runtimeapi.ContainerStats, hostNet []bool) PodStatsResult {
	res := p.newAssembly(inv, zeros).fromContainerStats(kept)
	res.Path = PathIdentity
	return p.finish(res, hostNet)
}

// finish ends every answer: the pods' hostNetwork flags, and the rate
// cache's entries of containers and pods not seen for a while purged.
func (p *Provider) finish(res PodStatsResult, hostNet []bool) PodStatsResult {
	res.HostNetwork = hostNet
	p.rates.purge(p.opts.Now().Add(-p.opts.RatePurgeAfter))
	return res
}

// assembly is the state of one PodStats call.
type assembly struct {
	p        *Provider
	inv      *inventory
	received time.Time  // stands in for missing sample timestamps
	zeros    unmeasured // what this runtime sends without measuring
	statfs   statfsCache
}

func (p *Provider) newAssembly(inv *inventory, zeros unmeasured) *assembly {
	return &assembly{p: p, inv: inv, received: p.opts.Now(), zeros: zeros, statfs: statfsCache{}}
}

// fromContainerStats is the partial path: container stats from
// ListContainerStats, pod CPU, memory and swap summed from them.
func (a *assembly) fromContainerStats(stats []*runtimeapi.ContainerStats) PodStatsResult {
	byID := make(map[string]*runtimeapi.ContainerStats, len(stats))
	for _, s := range stats {
		if id := s.GetAttributes().GetId(); id != "" {
			byID[id] = s
		}
	}
	res := a.result(PathPartial)
	for i := range a.inv.pods {
		ps := a.pod(&a.inv.pods[i], containerStatsFinder{byID: byID}, res)
		a.fillFromSums(&ps)
		res.Pods = append(res.Pods, ps)
	}
	return res.PodStatsResult
}

// fromSandboxStats is the strict path: pod and container stats from
// ListPodSandboxStats. Pod blocks the runtime left empty are summed from the
// containers, as on the partial path. A container is only found in the
// answer of the sandbox that lists it. A hostNetwork pod (hostNet, parallel
// to the inventory's pods) gets no network: what the runtime lists for it
// (CRI-O: the node's interfaces) is the node's traffic.
func (a *assembly) fromSandboxStats(stats []*runtimeapi.PodSandboxStats, hostNet []bool) PodStatsResult {
	bySandbox := make(map[string]*runtimeapi.LinuxPodSandboxStats, len(stats))
	for _, s := range stats {
		if id := s.GetAttributes().GetId(); id != "" && s.GetLinux() != nil {
			bySandbox[id] = s.GetLinux()
		}
	}
	res := a.result(PathStrict)
	for i := range a.inv.pods {
		sb := a.inv.pods[i].sandbox
		linux := bySandbox[sb.GetId()]
		ps := a.pod(&a.inv.pods[i], newSandboxFinder(linux.GetContainers()), res)
		if linux != nil {
			ps.CPU = a.cpu(rateKey{pod: true, id: sb.GetId()}, linux.GetCpu())
			ps.Memory = a.memory(linux.GetMemory())
			if !hostNet[i] {
				ps.Network = networkStats(linux.GetNetwork(), a.received)
			}
			ps.ProcessStats = processStats(linux.GetProcess())
			ps.IO = ioStats(linux.GetIo(), a.received)
		}
		a.fillFromSums(&ps)
		res.Pods = append(res.Pods, ps)
	}
	return res.PodStatsResult
}

// containerStatsFinder finds a container's stats by ID: in byID, or, when
// byID is nil, in list (one sandbox's few containers: a scan costs less than
// hashing). Of several stats with one ID the last listed wins.
type containerStatsFinder struct {
	byID map[string]*runtimeapi.ContainerStats
	list []*runtimeapi.ContainerStats
}

// scanLimit is the longest list a finder scans; a sandbox listing more
// containers gets a map.
const scanLimit = 16

func newSandboxFinder(list []*runtimeapi.ContainerStats) containerStatsFinder {
	if len(list) <= scanLimit {
		return containerStatsFinder{list: list}
	}
	byID := make(map[string]*runtimeapi.ContainerStats, len(list))
	for _, s := range list {
		if id := s.GetAttributes().GetId(); id != "" {
			byID[id] = s
		}
	}
	return containerStatsFinder{byID: byID}
}

func (f containerStatsFinder) find(id string) *runtimeapi.ContainerStats {
	if f.byID != nil {
		return f.byID[id]
	}
	for i := len(f.list) - 1; i >= 0; i-- {
		if f.list[i].GetAttributes().GetId() == id {
			return f.list[i]
		}
	}
	return nil
}

// result is a PodStatsResult being built, with the one array that every
// pod's container infos are cut from.
type result struct {
	PodStatsResult
	infos []ContainerInfo
}

func (a *assembly) result(path StatsPath) *result {
	return &result{
		PodStatsResult: PodStatsResult{
			Pods:       make([]statsapi.PodStats, 0, len(a.inv.pods)),
			Containers: make(ContainerInfos, 0, len(a.inv.pods)),
			Path:       path,
		},
		infos: make([]ContainerInfo, 0, a.inv.containers),
	}
}

// pod builds a pod's identity and its containers from their stats, and
// appends the containers' infos to res; a container the runtime gave no
// stats for is left out.
func (a *assembly) pod(p *invPod, stats containerStatsFinder, res *result) statsapi.PodStats {
	sb, ref, containers := p.sandbox, p.ref, p.containers
	ps := statsapi.PodStats{
		PodRef:     ref,
		StartTime:  timeFromNanos(sb.GetCreatedAt()),
		Containers: make([]statsapi.ContainerStats, 0, len(containers)),
	}
	first := len(res.infos)
	for _, c := range containers {
		s := stats.find(c.GetId())
		if s == nil {
			continue
		}
		ps.Containers = append(ps.Containers, a.container(c, s))
		res.infos = append(res.infos, ContainerInfo{
			ID:        c.GetId(),
			Attempt:   c.GetMetadata().GetAttempt(),
			SandboxID: sb.GetId(),
		})
	}
	// A full slice expression: appending to one pod's infos cannot overwrite
	// the next pod's.
	res.Containers = append(res.Containers, res.infos[first:len(res.infos):len(res.infos)])
	return ps
}

// container converts one container's stats. Its name and start time come from
// ListContainers (the stats' own metadata may be missing).
func (a *assembly) container(c *runtimeapi.Container, s *runtimeapi.ContainerStats) statsapi.ContainerStats {
	name := containerName(c)
	cs := statsapi.ContainerStats{
		Name:      name,
		StartTime: timeFromNanos(c.GetCreatedAt()),
		CPU:       a.cpu(rateKey{id: c.GetId()}, s.GetCpu()),
		Memory:    a.memory(s.GetMemory()),
		Swap:      a.swap(s.GetSwap()),
		IO:        ioStats(s.GetIo(), a.received),
	}
	var err error
	if cs.Rootfs, err = filesystemStats(s.GetWritableLayer(), a.received, a.statfs); err != nil {
		a.p.opts.Logger.Debug("container rootfs capacity unknown", zap.String("container_id", c.GetId()), zap.Error(err))
	}
	return cs
}

// cpu converts a CPU block and decides its usageNanoCores with the rate cache,
// keyed by key.
func (a *assembly) cpu(key rateKey, c *runtimeapi.CpuUsage) *statsapi.CPUStats {
	if c == nil {
		return nil
	}
	runtimeRate := uint64Ptr(c.GetUsageNanoCores())
	if a.zeros&zeroNanoCores != 0 && runtimeRate != nil && *runtimeRate == 0 {
		runtimeRate = nil
	}
	var rate *uint64
	if total := c.GetUsageCoreNanoSeconds(); total != nil {
		computed, reset := a.p.rates.observe(key, cpuSample{ts: sampleNanos(c.GetTimestamp(), a.received), total: total.GetValue()}, a.received)
		rate = chooseNanoCores(runtimeRate, computed, reset)
	} else {
		rate = runtimeRate // nothing to check it against
	}
	return cpuStats(c, a.received, rate)
}

// memory converts a memory block, leaving nil the zeros this runtime sends
// unmeasured.
func (a *assembly) memory(m *runtimeapi.MemoryUsage) *statsapi.MemoryStats {
	out := memoryStats(m, a.received)
	if out != nil && a.zeros&zeroPageFaults != 0 {
		if isZeroPtr(out.PageFaults) {
			out.PageFaults = nil
		}
		if isZeroPtr(out.MajorPageFaults) {
			out.MajorPageFaults = nil
		}
	}
	return out
}

// swap converts a swap block; nil when this runtime's is not swap.
func (a *assembly) swap(s *runtimeapi.SwapUsage) *statsapi.SwapStats {
	if a.zeros&memswSwap != 0 {
		return nil
	}
	return swapStats(s, a.received)
}

func isZeroPtr(p *uint64) bool { return p != nil && *p == 0 }

// fillFromSums sets the pod blocks still empty from its containers' sums.
func (a *assembly) fillFromSums(ps *statsapi.PodStats) {
	t := sumContainers(ps.Containers)
	if ps.CPU == nil {
		ps.CPU = t.cpu
	}
	if ps.Memory == nil {
		ps.Memory = t.mem
	}
	if ps.Swap == nil {
		ps.Swap = t.swap
	}
}
