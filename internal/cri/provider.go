package cri

import (
	"context"
	"time"

	"go.uber.org/zap"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Options configure a Provider. The zero value is usable.
type Options struct {
	// Logger receives the stats path chosen and best-effort failures (statfs,
	// log directories). No logging when nil.
	Logger *zap.Logger
	// PodLogsDir is the root of the pod log directories; DefaultPodLogsDir
	// when empty.
	PodLogsDir string
	// SkipLogs leaves container log usage unset: another source (the host
	// provider's background walker) measures the log directories, so a scrape
	// does not read them. By default the provider reads them on every call.
	SkipLogs bool
	// StatsPath forces the strict or the partial path; PathAuto (or "")
	// detects it.
	StatsPath StatsPath
	// Now is the clock used for samples the runtime left without a timestamp
	// and for purging the rate cache; time.Now when nil.
	Now func() time.Time
	// RatePurgeAfter is how long a container's or pod's CPU samples are kept
	// after it was last seen; DefaultRatePurgeAfter when ≤ 0.
	RatePurgeAfter time.Duration
}

// Provider builds pod and container stats from the runtime's answers. It is
// safe for concurrent use: several readers may assemble at once.
type Provider struct {
	client *Client
	opts   Options
	paths  *pathDetector
	rates  *rateCache
}

// NewProvider returns a provider that asks the runtime through client.
func NewProvider(client *Client, opts Options) *Provider {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.PodLogsDir == "" {
		opts.PodLogsDir = DefaultPodLogsDir
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
	return &Provider{
		client: client,
		opts:   opts,
		paths:  &pathDetector{forced: opts.StatsPath, logger: opts.Logger},
		rates:  newRateCache(),
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

// PodStatsResult is the provider's answer: Summary pod stats, and the runtime's
// identity of each container in them.
type PodStatsResult struct {
	Pods       []statsapi.PodStats
	Containers map[ContainerKey]ContainerInfo
	// Path is the stats path this answer was read through.
	Path StatsPath
}

// PodStats lists the pods on the node with their containers' stats. Any CRI
// error fails the call (a CRI error is never a reason to report fewer pods):
// the inventory and the stats must come from the same moment to be consistent.
// Filesystem measurements (statfs, log directories) are best effort: a failure
// there leaves those fields unset and is logged.
func (p *Provider) PodStats(ctx context.Context) (PodStatsResult, error) {
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

	strict, err := p.paths.tryStrict(ctx, p.client)
	if err != nil {
		return PodStatsResult{}, err
	}
	var res PodStatsResult
	if strict {
		stats, err := p.client.ListPodSandboxStats(ctx)
		switch {
		case err == nil:
			p.paths.strictWorked()
			res = p.newAssembly(inv).fromSandboxStats(stats)
		case p.paths.strictFailed(ctx, p.client, err):
			strict = false // the runtime lacks it: partial path below
		default:
			return PodStatsResult{}, err
		}
	}
	if !strict {
		stats, err := p.client.ListContainerStats(ctx)
		if err != nil {
			p.paths.noteError(err)
			return PodStatsResult{}, err
		}
		res = p.newAssembly(inv).fromContainerStats(stats)
	}
	p.rates.purge(p.opts.Now().Add(-p.opts.RatePurgeAfter))
	return res, nil
}

// assembly is the state of one PodStats call.
type assembly struct {
	p        *Provider
	inv      *inventory
	received time.Time // stands in for missing sample timestamps
	statfs   statfsCache
}

func (p *Provider) newAssembly(inv *inventory) *assembly {
	return &assembly{p: p, inv: inv, received: p.opts.Now(), statfs: statfsCache{}}
}

// fromContainerStats is the partial path: container stats from
// ListContainerStats, pod CPU, memory and swap summed from them.
func (a *assembly) fromContainerStats(stats []*runtimeapi.ContainerStats) PodStatsResult {
	byID := make(map[sandboxContainer]*runtimeapi.ContainerStats, len(stats))
	for _, s := range stats {
		if id := s.GetAttributes().GetId(); id != "" {
			byID[sandboxContainer{container: id}] = s
		}
	}
	res := a.result(PathPartial)
	for _, sb := range a.inv.pods {
		ps := a.pod(sb, byID, false, &res)
		a.fillFromSums(&ps)
		res.Pods = append(res.Pods, ps)
	}
	return res
}

// sandboxContainer keys container stats by container ID, and on the strict
// path also by the ID of the sandbox whose answer listed them.
type sandboxContainer struct {
	sandbox, container string
}

// fromSandboxStats is the strict path: pod and container stats from
// ListPodSandboxStats. Pod blocks the runtime left empty are summed from the
// containers, as on the partial path.
func (a *assembly) fromSandboxStats(stats []*runtimeapi.PodSandboxStats) PodStatsResult {
	// One map for every container of every sandbox, keyed by both IDs: a
	// container is only found under the sandbox that lists it.
	bySandbox := make(map[string]*runtimeapi.LinuxPodSandboxStats, len(stats))
	n := 0
	for _, s := range stats {
		if id := s.GetAttributes().GetId(); id != "" && s.GetLinux() != nil {
			bySandbox[id] = s.GetLinux()
			n += len(s.GetLinux().GetContainers())
		}
	}
	byID := make(map[sandboxContainer]*runtimeapi.ContainerStats, n)
	for sbID, linux := range bySandbox {
		for _, s := range linux.GetContainers() {
			if id := s.GetAttributes().GetId(); id != "" {
				byID[sandboxContainer{sbID, id}] = s
			}
		}
	}
	res := a.result(PathStrict)
	for _, sb := range a.inv.pods {
		linux := bySandbox[sb.GetId()]
		ps := a.pod(sb, byID, true, &res)
		if linux != nil {
			ps.CPU = a.cpu(rateKey{pod: true, id: sb.GetId()}, linux.GetCpu())
			ps.Memory = memoryStats(linux.GetMemory(), a.received)
			ps.Network = networkStats(linux.GetNetwork(), a.received)
			ps.ProcessStats = processStats(linux.GetProcess())
			ps.IO = ioStats(linux.GetIo(), a.received)
		}
		a.fillFromSums(&ps)
		res.Pods = append(res.Pods, ps)
	}
	return res
}

func (a *assembly) result(path StatsPath) PodStatsResult {
	return PodStatsResult{
		Pods:       make([]statsapi.PodStats, 0, len(a.inv.pods)),
		Containers: make(map[ContainerKey]ContainerInfo, len(a.inv.containers)),
		Path:       path,
	}
}

// pod builds a pod's identity and its containers from their stats; a
// container the runtime gave no stats for is left out. bySandbox says whether
// statsByID is keyed by sandbox ID too (the strict path).
func (a *assembly) pod(sb *runtimeapi.PodSandbox, statsByID map[sandboxContainer]*runtimeapi.ContainerStats, bySandbox bool, res *PodStatsResult) statsapi.PodStats {
	ref := a.inv.refs[sb.GetId()]
	containers := a.inv.bySandbox[sb.GetId()]
	ps := statsapi.PodStats{
		PodRef:     ref,
		StartTime:  timeFromNanos(sb.GetCreatedAt()),
		Containers: make([]statsapi.ContainerStats, 0, len(containers)),
	}
	key := sandboxContainer{}
	if bySandbox {
		key.sandbox = sb.GetId()
	}
	for _, c := range containers {
		key.container = c.GetId()
		s, ok := statsByID[key]
		if !ok {
			continue
		}
		cs := a.container(ref, c, s)
		res.Containers[ContainerKey{PodUID: ref.UID, Name: cs.Name}] = ContainerInfo{
			ID:        c.GetId(),
			Attempt:   c.GetMetadata().GetAttempt(),
			SandboxID: sb.GetId(),
		}
		ps.Containers = append(ps.Containers, cs)
	}
	return ps
}

// container converts one container's stats. Its name and start time come from
// ListContainers (the stats' own metadata may be missing).
func (a *assembly) container(pod statsapi.PodReference, c *runtimeapi.Container, s *runtimeapi.ContainerStats) statsapi.ContainerStats {
	name := containerName(c)
	cs := statsapi.ContainerStats{
		Name:      name,
		StartTime: timeFromNanos(c.GetCreatedAt()),
		CPU:       a.cpu(rateKey{id: c.GetId()}, s.GetCpu()),
		Memory:    memoryStats(s.GetMemory(), a.received),
		Swap:      swapStats(s.GetSwap(), a.received),
		IO:        ioStats(s.GetIo(), a.received),
	}
	var err error
	if cs.Rootfs, err = filesystemStats(s.GetWritableLayer(), a.received, a.statfs); err != nil {
		a.p.opts.Logger.Debug("container rootfs capacity unknown", zap.String("container_id", c.GetId()), zap.Error(err))
	}
	if a.p.opts.SkipLogs {
		return cs
	}
	if cs.Logs, err = logStats(containerLogsDir(a.p.opts.PodLogsDir, pod, name), a.received, a.statfs); err != nil {
		a.p.opts.Logger.Debug("container log usage unknown", zap.String("container_id", c.GetId()), zap.Error(err))
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
	var rate *uint64
	if total := c.GetUsageCoreNanoSeconds(); total != nil {
		computed, reset := a.p.rates.observe(key, cpuSample{ts: sampleNanos(c.GetTimestamp(), a.received), total: total.GetValue()}, a.received)
		rate = chooseNanoCores(runtimeRate, computed, reset)
	} else {
		rate = runtimeRate // nothing to check it against
	}
	return cpuStats(c, a.received, rate)
}

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
