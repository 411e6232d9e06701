package summary

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

type fakePods struct {
	res cri.PodStatsResult
	err error
}

func (f fakePods) PodStats(context.Context) (cri.PodStatsResult, error) { return f.res, f.err }

type fakeCgroups struct{ snap cadvisor.Snapshot }

func (f fakeCgroups) Current(time.Duration) cadvisor.Snapshot { return f.snap }

func p64(v uint64) *uint64 { return &v }

var (
	criTime = metav1.NewTime(time.Unix(1700000000, 0))
	cgTime  = metav1.NewTime(time.Unix(1700000005, 0))
)

const (
	podUID      = "8f0c2d9e-1111-2222-3333-444455556666"
	containerID = "0123456789abcdef0123456789abcdef"
)

// onePod is a runtime answer with one pod and one container whose blocks are
// given by the test.
func onePod(podCPU *statsapi.CPUStats, podMem *statsapi.MemoryStats, cCPU *statsapi.CPUStats, cMem *statsapi.MemoryStats) cri.PodStatsResult {
	return cri.PodStatsResult{
		Pods: []statsapi.PodStats{{
			PodRef: statsapi.PodReference{Name: "web", Namespace: "default", UID: podUID},
			CPU:    podCPU,
			Memory: podMem,
			Containers: []statsapi.ContainerStats{{
				Name: "app", CPU: cCPU, Memory: cMem,
			}},
		}},
		Containers: cri.ContainerInfos{{{ID: containerID}}},
	}
}

func criCPU(total uint64, cores *uint64) *statsapi.CPUStats {
	return &statsapi.CPUStats{Time: criTime, UsageCoreNanoSeconds: p64(total), UsageNanoCores: cores}
}

func criMem(ws, rss uint64) *statsapi.MemoryStats {
	return &statsapi.MemoryStats{Time: criTime, UsageBytes: p64(ws + 100), WorkingSetBytes: p64(ws), RSSBytes: p64(rss),
		PageFaults: p64(7), MajorPageFaults: p64(1)}
}

// cgSample is a cgroup sample that disagrees with every runtime value above.
func cgSample() *cadvisor.CgroupStats {
	return &cadvisor.CgroupStats{
		CPU: &statsapi.CPUStats{Time: cgTime, UsageCoreNanoSeconds: p64(999_000), UsageNanoCores: p64(555)},
		Memory: &statsapi.MemoryStats{Time: cgTime, UsageBytes: p64(90_000), WorkingSetBytes: p64(80_000), RSSBytes: p64(70_000),
			PageFaults: p64(60), MajorPageFaults: p64(6), AvailableBytes: p64(1 << 30)},
		Process: &statsapi.ProcessStats{ProcessCount: p64(3)},
	}
}

// TestMergeCRIFirst checks the field-by-field merge of pod and container
// blocks per mode.
func TestMergeCRIFirst(t *testing.T) {
	zeroSample := &cadvisor.CgroupStats{
		CPU:    &statsapi.CPUStats{Time: cgTime, UsageCoreNanoSeconds: p64(0)},
		Memory: &statsapi.MemoryStats{Time: cgTime, UsageBytes: p64(0), WorkingSetBytes: p64(0)},
	}
	tests := []struct {
		name       string
		mode       Mode
		derived    bool // pod totals are the runtime's container sums
		pods       cri.PodStatsResult
		podCg      *cadvisor.CgroupStats
		containerG *cadvisor.CgroupStats
		wantPod    statsapi.PodStats // only CPU, Memory, ProcessStats compared
		wantCont   statsapi.ContainerStats
		wantPodSrc BlockOrigins
		wantCSrc   BlockOrigins
	}{
		{
			// The opposite of the kubelet's TestCRIListPodStats: the runtime's
			// numbers stay although the cgroup disagrees on every one.
			name:  "runtime and cgroup disagree: runtime kept",
			mode:  ModeCRIFill,
			pods:  onePod(criCPU(5000, p64(40)), criMem(3000, 2000), criCPU(4000, p64(30)), criMem(2500, 1500)),
			podCg: cgSample(),
			wantPod: statsapi.PodStats{
				CPU: criCPU(5000, p64(40)),
				// available bytes: the runtime left it nil, the cgroup fills it.
				Memory:       withAvailable(criMem(3000, 2000), 1<<30),
				ProcessStats: &statsapi.ProcessStats{ProcessCount: p64(3)},
			},
			wantCont:   statsapi.ContainerStats{CPU: criCPU(4000, p64(30)), Memory: criMem(2500, 1500)},
			wantPodSrc: BlockOrigins{CPU: OriginCRI, Memory: OriginMixed, Process: OriginCAdvisor, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginCRI, Memory: OriginCRI, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
		{
			name:  "runtime lacks nano cores and memory: cgroup fills",
			mode:  ModeCRIFill,
			pods:  onePod(criCPU(5000, nil), nil, criCPU(4000, nil), nil),
			podCg: cgSample(),
			wantPod: statsapi.PodStats{
				CPU:          criCPU(5000, p64(555)),
				Memory:       cgSample().Memory,
				ProcessStats: &statsapi.ProcessStats{ProcessCount: p64(3)},
			},
			// ModeCRIFill has no container cgroups: the container stays as is.
			wantCont:   statsapi.ContainerStats{CPU: criCPU(4000, nil)},
			wantPodSrc: BlockOrigins{CPU: OriginMixed, Memory: OriginCAdvisor, Process: OriginCAdvisor, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
		{
			// Without runtime pod stats the pod totals are container sums:
			// the pod cgroup (which also holds the sandbox) wins there, while
			// containers keep the runtime's values.
			name:    "runtime pod totals are container sums: pod cgroup wins",
			mode:    ModeCRIFill,
			derived: true,
			pods:    onePod(criCPU(5000, p64(40)), criMem(3000, 2000), criCPU(4000, p64(30)), criMem(2500, 1500)),
			podCg:   cgSample(),
			wantPod: statsapi.PodStats{
				CPU:          cgSample().CPU,
				Memory:       cgSample().Memory,
				ProcessStats: &statsapi.ProcessStats{ProcessCount: p64(3)},
			},
			wantCont:   statsapi.ContainerStats{CPU: criCPU(4000, p64(30)), Memory: criMem(2500, 1500)},
			wantPodSrc: BlockOrigins{CPU: OriginCAdvisor, Memory: OriginCAdvisor, Process: OriginCAdvisor, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginCRI, Memory: OriginCRI, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
		{
			name:    "container sums and an unreadable pod cgroup: sums kept",
			mode:    ModeCRIFill,
			derived: true,
			pods:    onePod(criCPU(5000, nil), nil, criCPU(4000, nil), nil),
			podCg: &cadvisor.CgroupStats{
				CPU: &statsapi.CPUStats{Time: cgTime, UsageCoreNanoSeconds: p64(0)},
			},
			wantPod:    statsapi.PodStats{CPU: criCPU(5000, nil)},
			wantCont:   statsapi.ContainerStats{CPU: criCPU(4000, nil)},
			wantPodSrc: BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
		{
			name:       "zero sample of an unreadable cgroup changes nothing",
			mode:       ModeCRIFill,
			pods:       onePod(criCPU(5000, nil), nil, criCPU(4000, nil), nil),
			podCg:      zeroSample,
			wantPod:    statsapi.PodStats{CPU: criCPU(5000, nil)},
			wantCont:   statsapi.ContainerStats{CPU: criCPU(4000, nil)},
			wantPodSrc: BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
		{
			name:       "cri mode: cgroups never touch pods",
			mode:       ModeCRI,
			pods:       onePod(criCPU(5000, nil), nil, criCPU(4000, nil), nil),
			podCg:      cgSample(),
			wantPod:    statsapi.PodStats{CPU: criCPU(5000, nil)},
			wantCont:   statsapi.ContainerStats{CPU: criCPU(4000, nil)},
			wantPodSrc: BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginCRI, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
		{
			name:       "cadvisor mode: cgroups win, runtime fills",
			mode:       ModeCAdvisor,
			pods:       onePod(nil, nil, criCPU(4000, p64(30)), criMem(2500, 1500)),
			containerG: &cadvisor.CgroupStats{CPU: &statsapi.CPUStats{Time: cgTime, UsageCoreNanoSeconds: p64(999_000)}},
			wantPod:    statsapi.PodStats{},
			wantCont: statsapi.ContainerStats{
				CPU:    &statsapi.CPUStats{Time: cgTime, UsageCoreNanoSeconds: p64(999_000), UsageNanoCores: p64(30)},
				Memory: criMem(2500, 1500),
			},
			wantPodSrc: BlockOrigins{CPU: OriginNone, Memory: OriginNone, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
			wantCSrc:   BlockOrigins{CPU: OriginMixed, Memory: OriginCRI, Process: OriginNone, Swap: OriginNone, IO: OriginNone, Network: OriginNone},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := cadvisor.Snapshot{
				Node:       cgSample(),
				Pods:       map[string]*cadvisor.CgroupStats{},
				Containers: map[string]*cadvisor.CgroupStats{},
			}
			if tt.podCg != nil {
				snap.Pods[podUID] = tt.podCg
			}
			if tt.containerG != nil {
				snap.Containers[containerID] = tt.containerG
			}
			before := deepCopy(t, tt.podCg)
			pods := tt.pods.Pods
			prov := mergePods(pods, tt.pods.Containers, snap, tt.mode, tt.derived, nil)
			got := struct{ Provenance Provenance }{prov}
			pod := pods[0]
			gotPod := statsapi.PodStats{CPU: pod.CPU, Memory: pod.Memory, ProcessStats: pod.ProcessStats}
			if d := cmp.Diff(tt.wantPod, gotPod); d != "" {
				t.Errorf("pod blocks (-want +got):\n%s", d)
			}
			c := pod.Containers[0]
			if d := cmp.Diff(tt.wantCont, statsapi.ContainerStats{CPU: c.CPU, Memory: c.Memory}); d != "" {
				t.Errorf("container blocks (-want +got):\n%s", d)
			}
			gotPodSrc, _ := got.Provenance.Pod(podUID)
			if d := cmp.Diff(tt.wantPodSrc, gotPodSrc); d != "" {
				t.Errorf("pod provenance (-want +got):\n%s", d)
			}
			gotCSrc, _ := got.Provenance.Container(podUID, "app")
			if d := cmp.Diff(tt.wantCSrc, gotCSrc); d != "" {
				t.Errorf("container provenance (-want +got):\n%s", d)
			}
			// The merge must not write into the provider's shared samples.
			if d := cmp.Diff(before, tt.podCg); d != "" {
				t.Errorf("pod cgroup sample modified (-before +after):\n%s", d)
			}
		})
	}
}

func withAvailable(m *statsapi.MemoryStats, v uint64) *statsapi.MemoryStats {
	m.AvailableBytes = p64(v)
	return m
}

func TestNodeFromCgroups(t *testing.T) {
	node := cgSample()
	node.Network = &statsapi.NetworkStats{Time: cgTime,
		InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: p64(10)},
		Interfaces:     []statsapi.InterfaceStats{{Name: "eth0", RxBytes: p64(10)}, {Name: "eth1", RxBytes: p64(20)}}}
	runtime := cgSample()
	runtime.CPU.UsageCoreNanoSeconds = p64(1234)
	runtime.StartTime = time.Unix(1690000000, 0)
	snap := cadvisor.Snapshot{
		Node: node,
		System: map[string]*cadvisor.CgroupStats{
			statsapi.SystemContainerRuntime: runtime,
			statsapi.SystemContainerPods:    cgSample(),
			statsapi.SystemContainerKubelet: {CPU: &statsapi.CPUStats{UsageCoreNanoSeconds: p64(0)}}, // unreadable
		},
	}
	a := NewAssembler(Options{NodeName: "n", Cgroups: fakeCgroups{snap: snap}})
	got, err := a.Get(t.Context())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	n := got.Summary.Node
	if d := cmp.Diff(node.CPU, n.CPU); d != "" {
		t.Errorf("node cpu (-want +got):\n%s", d)
	}
	if d := cmp.Diff(node.Memory, n.Memory); d != "" {
		t.Errorf("node memory (-want +got):\n%s", d)
	}
	if d := cmp.Diff(node.Network, n.Network); d != "" {
		t.Errorf("node network (-want +got):\n%s", d)
	}
	var names []string
	for _, c := range n.SystemContainers {
		names = append(names, c.Name)
		if c.Name == statsapi.SystemContainerRuntime && (*c.CPU.UsageCoreNanoSeconds != 1234 || !c.StartTime.Time.Equal(runtime.StartTime)) {
			t.Errorf("runtime cpu, start = %d, %v; want 1234, %v", *c.CPU.UsageCoreNanoSeconds, c.StartTime, runtime.StartTime)
		}
	}
	if d := cmp.Diff([]string{"pods", "runtime"}, names); d != "" {
		t.Errorf("system containers (-want +got):\n%s", d)
	}
}

func TestNodeWithoutCgroupSampleIsSourceError(t *testing.T) {
	a := NewAssembler(Options{NodeName: "n",
		Pods:    fakePods{res: onePod(criCPU(1, nil), nil, criCPU(1, nil), nil)},
		Cgroups: fakeCgroups{}})
	got, err := a.Get(t.Context())
	var se *SourceError
	if !errors.As(err, &se) || se.Source != "cadvisor" {
		t.Fatalf("want a cadvisor source error, got %v", err)
	}
	if len(got.Summary.Pods) != 1 {
		t.Fatalf("pods lost with the cgroup source failing: %+v", got.Summary.Pods)
	}
}

// TestAssemblerMergesAndRecordsProvenance goes through Get: on the partial
// path the runtime's pod totals are container sums, so the pod cgroup feeds pod
// CPU and memory; on the strict path they are the runtime's and stay. The
// containers keep the runtime's values either way, and the Assembly says so.
func TestAssemblerMergesAndRecordsProvenance(t *testing.T) {
	tests := []struct {
		path       cri.StatsPath
		wantPodCPU uint64
		wantOrigin Origin
	}{
		{cri.PathPartial, 999_000, OriginCAdvisor},
		{cri.PathStrict, 5000, OriginCRI},
	}
	for _, tt := range tests {
		t.Run(string(tt.path), func(t *testing.T) {
			res := onePod(criCPU(5000, p64(40)), criMem(3000, 2000), criCPU(4000, p64(30)), criMem(2500, 1500))
			res.Path = tt.path
			snap := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: cgSample()}}
			a := NewAssembler(Options{NodeName: "n", Pods: fakePods{res: res}, Cgroups: fakeCgroups{snap: snap}})
			got, err := a.Get(t.Context())
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			pod := got.Summary.Pods[0]
			if *pod.CPU.UsageCoreNanoSeconds != tt.wantPodCPU || *pod.Containers[0].CPU.UsageCoreNanoSeconds != 4000 {
				t.Errorf("pod, container cpu = %d, %d; want %d and the runtime's 4000",
					*pod.CPU.UsageCoreNanoSeconds, *pod.Containers[0].CPU.UsageCoreNanoSeconds, tt.wantPodCPU)
			}
			podSrc, _ := got.Provenance.Pod(podUID)
			cSrc, _ := got.Provenance.Container(podUID, "app")
			if podSrc.CPU != tt.wantOrigin || cSrc.CPU != OriginCRI {
				t.Errorf("provenance = %+v", got.Provenance)
			}
		})
	}
}

// deepCopy copies a sample through JSON (its times are whole seconds).
func deepCopy(t *testing.T, c *cadvisor.CgroupStats) *cadvisor.CgroupStats {
	t.Helper()
	if c == nil {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out cadvisor.CgroupStats
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestMergeNetworkAndPressure: containerd 1.6 gives a pod's eth0 only
// flattened, with time 0, and no PSI; the pod's netns adds its other
// interfaces and cgroups add PSI, while eth0 keeps the runtime's counters.
func TestMergeNetworkAndPressure(t *testing.T) {
	psi := &statsapi.PSIStats{Some: statsapi.PSIData{Total: 77, Avg10: 1.5}}
	pod := statsapi.PodStats{
		PodRef: statsapi.PodReference{UID: podUID},
		CPU:    criCPU(5000, p64(40)),
		Network: &statsapi.NetworkStats{ // no time, nothing listed
			InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: p64(100), TxBytes: p64(200)},
		},
	}
	cg := &cadvisor.CgroupStats{
		CPU: &statsapi.CPUStats{Time: cgTime, UsageCoreNanoSeconds: p64(999), PSI: psi},
		IO:  &statsapi.IOStats{Time: cgTime, PSI: psi},
		Network: &statsapi.NetworkStats{Time: cgTime,
			InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: p64(1), TxBytes: p64(2)},
			Interfaces: []statsapi.InterfaceStats{
				{Name: "eth0", RxBytes: p64(1), TxBytes: p64(2)},
				{Name: "net1", RxBytes: p64(3), TxBytes: p64(4)},
			}},
	}
	pods := []statsapi.PodStats{pod}
	prov := mergePods(pods, nil, cadvisor.Snapshot{Pods: map[string]*cadvisor.CgroupStats{podUID: cg}}, ModeCRIFill, false, nil)
	got := pods[0]
	wantNet := &statsapi.NetworkStats{Time: cgTime,
		InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: p64(100), TxBytes: p64(200)},
		Interfaces: []statsapi.InterfaceStats{
			{Name: "eth0", RxBytes: p64(100), TxBytes: p64(200)},
			{Name: "net1", RxBytes: p64(3), TxBytes: p64(4)},
		}}
	if d := cmp.Diff(wantNet, got.Network); d != "" {
		t.Errorf("network (-want +got):\n%s", d)
	}
	wantCPU := criCPU(5000, p64(40))
	wantCPU.PSI = psi
	if d := cmp.Diff(wantCPU, got.CPU); d != "" {
		t.Errorf("cpu (-want +got):\n%s", d)
	}
	if d := cmp.Diff(&statsapi.IOStats{Time: cgTime, PSI: psi}, got.IO); d != "" {
		t.Errorf("io (-want +got):\n%s", d)
	}
	want := BlockOrigins{CPU: OriginMixed, Memory: OriginNone, Swap: OriginNone, IO: OriginCAdvisor, Network: OriginMixed, Process: OriginNone}
	gotOrigins, _ := prov.Pod(podUID)
	if d := cmp.Diff(want, gotOrigins); d != "" {
		t.Errorf("provenance (-want +got):\n%s", d)
	}
	if len(cg.Network.Interfaces) != 2 || *cg.Network.Interfaces[0].RxBytes != 1 {
		t.Errorf("the cgroup sample was modified: %+v", cg.Network.Interfaces)
	}
}

func TestOriginString(t *testing.T) {
	for o, want := range map[Origin]string{OriginNone: "none", OriginCRI: "cri", OriginCAdvisor: "cadvisor", OriginMixed: "cri+cadvisor", 9: "Origin(9)"} {
		if got := o.String(); got != want {
			t.Errorf("Origin(%d).String() = %q, want %q", uint8(o), got, want)
		}
	}
}
