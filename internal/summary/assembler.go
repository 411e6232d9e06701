package summary

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// PodStatsProvider gives the pods on the node with their containers' stats.
type PodStatsProvider interface {
	PodStats(ctx context.Context) (cri.PodStatsResult, error)
}

// RuntimeFsProvider gives the runtime's image and container filesystems.
type RuntimeFsProvider interface {
	ImageFsStats(ctx context.Context) (*statsapi.RuntimeStats, error)
}

// VolumeKey names a volume within the Summary: its pod's UID and its name.
type VolumeKey struct {
	PodUID string
	Name   string
}

// Assembly is one assembled Summary and what the runtime told of its containers
// beyond it (IDs, restart attempts).
type Assembly struct {
	Summary *statsapi.Summary
	// Containers parallels Summary.Pods: Containers[i][j] is the runtime's
	// identity of Summary.Pods[i].Containers[j].
	Containers cri.ContainerInfos
	// Provenance says which source fed each pod and container block.
	Provenance Provenance
	// VolumeTypes names each pod volume's source (emptyDir, configMap, csi,
	// …) as the pod spec would, where the host provider found it.
	VolumeTypes map[VolumeKey]string
	// Time is when the assembly started.
	Time time.Time
	// RuntimeAnswered says the runtime gave the pod and container stats
	// (Options.Pods answered without error): the Summary has the runtime's
	// data, even when another source failed.
	RuntimeAnswered bool
	// StatsPath is how the runtime answered: strict, partial, or identity
	// (no CPU or memory of the runtime's: the cgroups gave them); "" when it
	// did not answer.
	StatsPath cri.StatsPath
	// Extras is what was gathered beyond the Summary (extras.go): requests,
	// limits, the node's capacity and cgroup counters, as Options.Extras
	// asks; nil when it asks for nothing.
	Extras *Extras
}

// SourceError is a failure of one named source during an assembly. The Summary
// returned alongside still holds what the other sources gave.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return fmt.Sprintf("source %s: %v", e.Source, e.Err) }
func (e *SourceError) Unwrap() error { return e.Err }

// UnknownSource names, in FailedSources, a failure that no *SourceError
// attributes.
const UnknownSource = "unknown"

// FailedSources names the source of each error joined in err, once each, in
// the order they failed; nil when err is nil.
func FailedSources(err error) []string {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range errs {
		source := UnknownSource
		var se *SourceError
		if errors.As(e, &se) && se.Source != "" {
			source = se.Source
		}
		if !seen[source] {
			seen[source] = true
			out = append(out, source)
		}
	}
	return out
}

// Options configure an Assembler.
type Options struct {
	// NodeName is written into the Summary's node stats.
	NodeName string
	// Pods provides pod and container stats (the CRI provider).
	Pods PodStatsProvider
	// RuntimeFs provides the node's runtime filesystems (the CRI provider's
	// ImageFsInfo); nil leaves Node.Runtime out. It is asked only when Pods
	// answered, so a runtime that is down costs one timeout, not two.
	RuntimeFs RuntimeFsProvider
	// Now returns the assembly time; time.Now when nil.
	Now func() time.Time

	// Cgroups provides the node, system container and pod cgroup samples
	// (the cAdvisor provider); nil leaves those out. They are read while the
	// runtime is asked, so both describe the same moment. When it is also a
	// PodCgroupFilter, pod cgroups that would add nothing are left unread
	// (see cgroupPlan).
	Cgroups CgroupStatsProvider
	// CgroupMaxAge is how old a cgroup snapshot may be; DefaultCgroupMaxAge
	// when zero.
	CgroupMaxAge time.Duration
	// Mode says how cgroup samples combine with the runtime's pod and
	// container stats; empty or ModeAuto is ModeCRIFill.
	Mode Mode
	// Host provides boot time, rlimit, node fs, the node's capacity, and
	// pod volume, log and etc-hosts usage (the host provider); nil leaves
	// those out.
	Host HostStatsProvider
	// Claims names persistent volumes by their pod-spec name with their
	// claim (the pod metadata from the API server); nil leaves the node's
	// names and no pvcRef.
	Claims VolumeClaims

	// Extras says what is gathered beyond the Summary (extras.go); nothing
	// when zero. Files reads the container and pod cgroup files it needs
	// (nil: no cgroup limits or counters), Resources asks the runtime for
	// containers' resources (nil: none from the runtime), PodMetadata gives
	// what the node cannot know (podmetadata.go; nil: none).
	Extras      ExtrasOptions
	Files       CgroupFilesReader
	Resources   ContainerResourcesProvider
	PodMetadata PodMetadata
}

// Assembler builds Summaries from its providers. It is safe for concurrent use
// as long as its providers are.
type Assembler struct {
	opts   Options
	plan   *cgroupPlan   // nil without Cgroups
	limits *memoryLimits // what pod samples told of memory limits
	// gate is the runtime provider told, after each assembly, whether the
	// cgroups covered every pod and container (the identity plan, see
	// IdentityGate); nil when it has none or the mode takes nothing from
	// the cgroups.
	gate IdentityGate
	// runtimeNetwork holds the pods (by UID) to which the last stats answer
	// (not an identity one) gave network, which an identity answer must then
	// find in their cgroups; guarded by gateMu.
	gateMu         sync.Mutex
	runtimeNetwork map[string]bool
}

// NewAssembler returns an Assembler over opts.
func NewAssembler(opts Options) *Assembler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CgroupMaxAge <= 0 {
		opts.CgroupMaxAge = DefaultCgroupMaxAge
	}
	if opts.Mode == "" || opts.Mode == ModeAuto {
		opts.Mode = ModeCRIFill
	}
	a := &Assembler{opts: opts, limits: newMemoryLimits()}
	if opts.Cgroups != nil {
		if g, ok := opts.Pods.(IdentityGate); ok && g.IdentityPlan() && opts.Mode != ModeCRI {
			a.gate = g
		}
		a.plan = newCgroupPlan(opts.Cgroups, opts.Mode, a.gate != nil)
	}
	return a
}

// Get assembles one Summary. It always returns an Assembly whose Summary has at
// least the node name; err, when not nil, joins a *SourceError per failed source.
func (a *Assembler) Get(ctx context.Context) (*Assembly, error) {
	out := &Assembly{
		Summary: &statsapi.Summary{
			Node: statsapi.NodeStats{NodeName: a.opts.NodeName},
			Pods: []statsapi.PodStats{},
		},
		Time: a.opts.Now(),
	}
	var errs []error
	// The cgroups are read while the runtime answers.
	var snap cadvisor.Snapshot
	var cgroupsRead sync.WaitGroup
	if a.opts.Cgroups != nil {
		cgroupsRead.Go(func() { snap = a.opts.Cgroups.Current(a.opts.CgroupMaxAge) })
	}
	var res cri.PodStatsResult
	if a.opts.Pods != nil {
		var err error
		res, err = a.opts.Pods.PodStats(ctx)
		if err != nil {
			errs = append(errs, &SourceError{Source: "cri", Err: err})
		}
		out.RuntimeAnswered = err == nil
		if err == nil {
			out.StatsPath = res.Path
		}
		if res.Pods != nil {
			out.Summary.Pods = res.Pods
		}
		out.Containers = res.Containers
		if err == nil && a.opts.RuntimeFs != nil {
			rt, ferr := a.opts.RuntimeFs.ImageFsStats(ctx)
			if ferr != nil {
				errs = append(errs, &SourceError{Source: "cri", Err: ferr})
			}
			out.Summary.Node.Runtime = rt
		}
	}
	cgroupsRead.Wait()
	if a.opts.Cgroups != nil {
		snap = a.plan.readNowIfPathChanged(res.Path, snap)
		// Which pods the runtime gave network, before the cgroups fill it.
		var runtimeNet map[string]bool
		if a.gate != nil && out.RuntimeAnswered && res.Path != cri.PathIdentity {
			runtimeNet = map[string]bool{}
			for i := range res.Pods {
				if res.Pods[i].Network != nil {
					runtimeNet[res.Pods[i].PodRef.UID] = true
				}
			}
		}
		if err := fillNodeFromCgroups(&out.Summary.Node, snap); err != nil {
			errs = append(errs, &SourceError{Source: "cadvisor", Err: err})
		}
		out.Provenance = mergePods(out.Summary.Pods, out.Containers, snap, a.opts.Mode, podTotalsDerived(res), res.HostNetwork)
		a.plan.learn(out.Provenance, len(errs) > 0)
		if a.gate != nil && out.RuntimeAnswered {
			a.gateMu.Lock()
			if runtimeNet != nil {
				a.runtimeNetwork = runtimeNet
			}
			needNetwork := a.runtimeNetwork
			a.gateMu.Unlock()
			a.gate.IdentityAnswers(cgroupsCover(out.Summary.Pods, out.Containers, snap, needNetwork))
		}
		if a.opts.Mode != ModeCRI {
			resolveAvailable(out.Summary.Pods, out.Containers, snap, a.limits, out.Time)
		}
	} else {
		out.Provenance = mergePods(out.Summary.Pods, out.Containers, cadvisor.Snapshot{}, ModeCRI, false, nil)
	}
	var capacity NodeCapacity
	if a.opts.Host != nil {
		hn, err := a.opts.Host.Node()
		capacity = NodeCapacity{CPU: float64(hn.Capacity.CPUs), Memory: hn.Capacity.Memory}
		if err != nil {
			errs = append(errs, &SourceError{Source: "host", Err: err})
		}
		fillNodeFromHost(&out.Summary.Node, hn)
		for i := range out.Summary.Pods {
			p := &out.Summary.Pods[i]
			hp, known := a.opts.Host.Pod(p.PodRef.UID)
			fillPodFromHost(p, hp, known, hn.Fs)
			for name, typ := range hp.VolumeTypes {
				if out.VolumeTypes == nil {
					out.VolumeTypes = map[VolumeKey]string{}
				}
				out.VolumeTypes[VolumeKey{PodUID: p.PodRef.UID, Name: name}] = typ
			}
			if a.opts.Claims != nil {
				nameVolumesByClaim(p, a.opts.Claims, out.VolumeTypes)
			}
		}
	}
	// Only over the runtime's answer: a failed scrape must not make the
	// caches of cgroup files and ContainerStatus answers forget every
	// container.
	if a.opts.Extras != (ExtrasOptions{}) && out.RuntimeAnswered {
		out.Extras = a.gatherExtras(ctx, out.Summary.Pods, out.Containers, capacity)
	}
	return out, errors.Join(errs...)
}

// IdentityGate is a PodStatsProvider that can answer from identity alone
// between stats calls (cri.Provider with StatsEvery): the identity plan.
//
// In every mode that takes pods' and containers' CPU and memory from their
// cgroups where the runtime gives none (ModeCRIFill, the default's, and
// ModeCAdvisor), the assembler tells it after each assembly whether the
// cgroup snapshot held CPU and memory for every pod and container; only then
// do the next scrapes ask the runtime for identity alone, and those answers
// carry none of the runtime's CPU or memory for a cgroup to be preferred
// over. A scrape that does ask the runtime for its stats keeps them as the
// mode says (ModeCRIFill: the runtime's values win, field by field), so no
// value the runtime gave is ever replaced. The cgroup plan reads every pod
// then: an identity answer leaves every pod to its cgroup.
type IdentityGate interface {
	// IdentityPlan says the provider may answer from identity (it was
	// given a stats interval).
	IdentityPlan() bool
	// IdentityAnswers says whether the last assembly found every pod's and
	// container's CPU and memory in the cgroups.
	IdentityAnswers(ok bool)
}

// cgroupsCover says snap holds CPU (with its rate) and memory (with its
// working set) for every pod of pods and every container the runtime listed
// in them (ids parallels pods): what an identity answer leaves to the
// cgroups. It also holds the network of each pod in needNetwork (those to
// which the runtime's last stats answer gave network): a collector that
// cannot see the pods' processes (a DaemonSet without hostPID) reads no pod
// network namespace, and its identity answers would lose the network the
// runtime gives. It looks at the samples, not at which source won the merge,
// so it holds on a scrape where the runtime's own values were kept.
func cgroupsCover(pods []statsapi.PodStats, ids cri.ContainerInfos, snap cadvisor.Snapshot, needNetwork map[string]bool) bool {
	has := func(cg *cadvisor.CgroupStats) bool {
		return cg != nil && cg.CPU != nil && cg.CPU.UsageNanoCores != nil && cg.CPU.UsageCoreNanoSeconds != nil &&
			cg.Memory != nil && cg.Memory.WorkingSetBytes != nil
	}
	for i := range pods {
		uid := pods[i].PodRef.UID
		cg := snap.Pods[uid]
		if !has(cg) || (needNetwork[uid] && cg.Network == nil) {
			return false
		}
		for j := range pods[i].Containers {
			info, ok := ids.Of(i, j)
			if !ok || !has(snap.Containers[info.ID]) {
				return false
			}
		}
	}
	return true
}

// podTotalsDerived reports whether the runtime's answer has pod CPU, memory
// and swap summed from its containers (the partial path: ListContainerStats
// without ListPodSandboxStats), or none at all (an identity answer), rather
// than the runtime's own pod stats.
func podTotalsDerived(res cri.PodStatsResult) bool {
	return res.Path == cri.PathPartial || res.Path == cri.PathIdentity
}
