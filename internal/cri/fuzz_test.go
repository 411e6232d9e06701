package cri

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
)

// fuzzGen turns fuzz bytes into CRI answers: nil or set fields, extreme and
// inconsistent values, and IDs and names from small alphabets so that
// duplicates (IDs, pod UIDs, container names) are frequent. Past the end of
// the input every read is 0, which is a valid choice everywhere.
type fuzzGen struct {
	b        []byte
	i        int
	mountDir string // a real directory statfs can read
}

func (g *fuzzGen) byte() byte {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return g.b[g.i-1]
}

func (g *fuzzGen) n(limit int) int { return int(g.byte()) % (limit + 1) }

func (g *fuzzGen) raw64() uint64 {
	var buf [8]byte
	for k := range buf {
		buf[k] = g.byte()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

// id is "" or one of four IDs with the prefix.
func (g *fuzzGen) id(prefix string) string {
	k := g.byte() % 5
	if k == 4 {
		return ""
	}
	return prefix + strconv.Itoa(int(k))
}

var fuzzNames = []string{"", "a", "b", "..", "x/y", "lo", "eth0", "shop"}

func (g *fuzzGen) name() string { return fuzzNames[int(g.byte())%len(fuzzNames)] }

func (g *fuzzGen) val() uint64 {
	switch g.byte() % 7 {
	case 0:
		return 0
	case 1:
		return math.MaxUint64
	case 2:
		return 1 << 63
	case 3:
		return math.MaxInt64
	case 4:
		return uint64(g.byte())
	case 5:
		return uint64(g.byte()) * 1e9
	default:
		return g.raw64()
	}
}

func (g *fuzzGen) u64() *runtimeapi.UInt64Value {
	if g.byte()%4 == 0 {
		return nil
	}
	return &runtimeapi.UInt64Value{Value: g.val()}
}

func (g *fuzzGen) ts() int64 {
	switch g.byte() % 7 {
	case 0:
		return 0
	case 1:
		return -1
	case 2:
		return math.MaxInt64
	case 3:
		return math.MinInt64
	case 4, 5:
		return at(time.Duration(g.byte()) * time.Second)
	default:
		return int64(g.raw64())
	}
}

func (g *fuzzGen) psi() *runtimeapi.PsiStats {
	if g.byte()%3 != 0 {
		return nil
	}
	d := func() *runtimeapi.PsiData {
		if g.byte()%2 == 0 {
			return nil
		}
		// Averages: ordinary values, and the floats JSON cannot hold (NaN,
		// ±Inf) often enough that a short pass meets them.
		f := func() float64 {
			switch g.byte() % 6 {
			case 0:
				return 0
			case 1:
				return math.NaN()
			case 2:
				return math.Inf(1 - 2*int(g.byte()%2))
			case 3:
				return float64(g.byte()) / 4
			default:
				return math.Float64frombits(g.raw64())
			}
		}
		return &runtimeapi.PsiData{Total: g.val(), Avg10: f(), Avg60: f(), Avg300: f()}
	}
	return &runtimeapi.PsiStats{Full: d(), Some: d()}
}

func (g *fuzzGen) fsUsage() *runtimeapi.FilesystemUsage {
	if g.byte()%3 == 0 {
		return nil
	}
	u := &runtimeapi.FilesystemUsage{Timestamp: g.ts(), UsedBytes: g.u64(), InodesUsed: g.u64()}
	switch g.byte() % 4 {
	case 1:
		u.FsId = &runtimeapi.FilesystemIdentifier{}
	case 2:
		u.FsId = &runtimeapi.FilesystemIdentifier{Mountpoint: g.mountDir}
	case 3:
		u.FsId = &runtimeapi.FilesystemIdentifier{Mountpoint: filepath.Join(g.mountDir, "absent")}
	}
	return u
}

func (g *fuzzGen) containerStats() *runtimeapi.ContainerStats {
	s := &runtimeapi.ContainerStats{}
	if g.byte()%5 != 0 {
		s.Attributes = &runtimeapi.ContainerAttributes{Id: g.id("c")}
	}
	if g.byte()%4 != 0 {
		s.Cpu = &runtimeapi.CpuUsage{Timestamp: g.ts(), UsageCoreNanoSeconds: g.u64(), UsageNanoCores: g.u64(), Psi: g.psi()}
	}
	if g.byte()%4 != 0 {
		s.Memory = &runtimeapi.MemoryUsage{
			Timestamp: g.ts(), WorkingSetBytes: g.u64(), AvailableBytes: g.u64(), UsageBytes: g.u64(),
			RssBytes: g.u64(), PageFaults: g.u64(), MajorPageFaults: g.u64(), Psi: g.psi(),
		}
	}
	if g.byte()%3 == 0 {
		s.Swap = &runtimeapi.SwapUsage{Timestamp: g.ts(), SwapAvailableBytes: g.u64(), SwapUsageBytes: g.u64()}
	}
	if g.byte()%3 == 0 {
		s.Io = &runtimeapi.IoUsage{Timestamp: g.ts(), Psi: g.psi()}
	}
	s.WritableLayer = g.fsUsage()
	return s
}

func (g *fuzzGen) netIface() *runtimeapi.NetworkInterfaceUsage {
	if g.byte()%4 == 0 {
		return nil
	}
	return &runtimeapi.NetworkInterfaceUsage{Name: g.name(), RxBytes: g.u64(), RxErrors: g.u64(), TxBytes: g.u64(), TxErrors: g.u64()}
}

func (g *fuzzGen) podSandboxStats() *runtimeapi.PodSandboxStats {
	s := &runtimeapi.PodSandboxStats{}
	if g.byte()%5 != 0 {
		s.Attributes = &runtimeapi.PodSandboxAttributes{Id: g.id("sb")}
	}
	if g.byte()%5 == 0 {
		return s
	}
	l := &runtimeapi.LinuxPodSandboxStats{}
	if g.byte()%3 != 0 {
		l.Cpu = &runtimeapi.CpuUsage{Timestamp: g.ts(), UsageCoreNanoSeconds: g.u64(), UsageNanoCores: g.u64()}
	}
	if g.byte()%3 != 0 {
		l.Memory = &runtimeapi.MemoryUsage{Timestamp: g.ts(), WorkingSetBytes: g.u64(), UsageBytes: g.u64(), AvailableBytes: g.u64()}
	}
	if g.byte()%3 != 0 {
		l.Network = &runtimeapi.NetworkUsage{Timestamp: g.ts(), DefaultInterface: g.netIface()}
		for range g.n(3) {
			l.Network.Interfaces = append(l.Network.Interfaces, g.netIface())
		}
	}
	if g.byte()%3 != 0 {
		l.Process = &runtimeapi.ProcessUsage{Timestamp: g.ts(), ProcessCount: g.u64()}
	}
	if g.byte()%3 == 0 {
		l.Io = &runtimeapi.IoUsage{Timestamp: g.ts(), Psi: g.psi()}
	}
	for range g.n(4) {
		l.Containers = append(l.Containers, g.containerStats())
	}
	s.Linux = l
	return s
}

// fuzzAnswers is what the runtime answered for one assembly.
type fuzzAnswers struct {
	strict     bool
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
	ctrStats   []*runtimeapi.ContainerStats
	podStats   []*runtimeapi.PodSandboxStats
}

func (g *fuzzGen) answers() fuzzAnswers {
	var a fuzzAnswers
	a.strict = g.byte()%2 == 1
	for range g.n(5) {
		sb := &runtimeapi.PodSandbox{
			Id:        g.id("sb"),
			State:     runtimeapi.PodSandboxState(g.byte() % 3),
			CreatedAt: g.ts(),
		}
		if g.byte()%4 != 0 {
			sb.Metadata = &runtimeapi.PodSandboxMetadata{Name: g.name(), Namespace: g.name(), Uid: g.id("u")}
		} else {
			sb.Labels = map[string]string{labelPodName: g.name(), labelPodNamespace: g.name(), labelPodUID: g.id("u")}
		}
		a.sandboxes = append(a.sandboxes, sb)
	}
	for range g.n(8) {
		c := &runtimeapi.Container{
			Id:           g.id("c"),
			PodSandboxId: g.id("sb"),
			State:        runtimeapi.ContainerState(g.byte() % 5),
			CreatedAt:    g.ts(),
		}
		if g.byte()%4 != 0 {
			c.Metadata = &runtimeapi.ContainerMetadata{Name: g.name(), Attempt: uint32(g.byte())}
		} else {
			c.Labels = map[string]string{labelContainerName: g.name()}
		}
		a.containers = append(a.containers, c)
	}
	if a.strict {
		for range g.n(5) {
			a.podStats = append(a.podStats, g.podSandboxStats())
		}
	} else {
		for range g.n(8) {
			a.ctrStats = append(a.ctrStats, g.containerStats())
		}
	}
	return a
}

// clone is a deep copy of the answers.
func (a fuzzAnswers) clone() fuzzAnswers {
	return fuzzAnswers{
		strict:     a.strict,
		sandboxes:  cloneMsgs(a.sandboxes),
		containers: cloneMsgs(a.containers),
		ctrStats:   cloneMsgs(a.ctrStats),
		podStats:   cloneMsgs(a.podStats),
	}
}

func cloneMsgs[T proto.Message](in []T) []T {
	out := make([]T, len(in))
	for i, m := range in {
		out[i] = proto.Clone(m).(T)
	}
	return out
}

// advance is a copy of the answers one step later: every CPU counter and
// sample time moved by amounts the input chooses (possibly backwards,
// possibly not at all), so that the rate cache sees successive samples of one
// container.
func (g *fuzzGen) advance(a fuzzAnswers) fuzzAnswers {
	a = a.clone()
	bump := func(c *runtimeapi.CpuUsage) {
		if c == nil {
			return
		}
		c.Timestamp += int64(g.byte()) * int64(time.Second) / 4
		if v := c.GetUsageCoreNanoSeconds(); v != nil {
			if g.byte()%8 == 0 {
				v.Value = uint64(g.byte()) // a reset
			} else {
				v.Value += uint64(g.byte()) * 1e8
			}
		}
	}
	for _, s := range a.ctrStats {
		bump(s.GetCpu())
	}
	for _, s := range a.podStats {
		bump(s.GetLinux().GetCpu())
		for _, c := range s.GetLinux().GetContainers() {
			bump(c.GetCpu())
		}
	}
	return a
}

// fuzzSeeds are inputs that build realistic answers: a ready pod with two
// containers on each path, a NOTREADY and a READY sandbox of one pod, and
// duplicates of every kind.
var fuzzSeeds = [][]byte{
	{},
	{0, 2, 0, 1, 4, 1, 1, 1, 0, 2, 0, 0, 2, 0, 1, 4, 1, 1, 1, 2, 0, 0, 2, 1, 1, 5, 1, 6, 3, 2, 0, 1, 2, 5, 2, 5, 5, 5, 1, 2, 3, 4, 5, 6, 1, 1, 2},
	{1, 1, 0, 1, 4, 1, 1, 1, 0, 2, 0, 0, 2, 0, 1, 4, 1, 1, 1, 1, 1, 0, 1, 1, 1, 2, 2, 1, 1, 6, 1, 1, 2, 3, 1, 2, 1, 1, 4, 1, 1, 5, 5, 5, 2, 1, 1, 0, 1, 1, 5, 2},
	{0, 3, 0, 1, 4, 7, 1, 1, 1, 0, 2, 1, 2, 4, 3, 1, 1, 1, 0, 2, 0, 2, 2, 4, 1, 1, 1, 0, 2, 4, 1, 1, 4, 0, 0, 1, 4, 9, 1, 2, 1, 0, 0, 1, 4, 9, 1, 2, 1},
	{0, 5, 0, 1, 4, 2, 1, 1, 1, 0, 0, 1, 4, 2, 1, 1, 1, 1, 1, 1, 4, 2, 1, 1, 1, 8, 0, 0, 1, 4, 0, 1, 1, 0, 0, 1, 4, 0, 1, 2, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3},
}

// FuzzPodStats builds pod and container stats from arbitrary CRI answers, on
// both stats paths, three assemblies in a row (the second one step later, the
// third unrelated), and checks what must always hold: no panic; pods and
// containers reported at most once (a pod UID names one pod, a container name
// one container of its pod); every reported container named in the result's
// container map; pod totals summed from containers never smaller than a
// container's value (no wrap-around); a container whose counter went
// backwards has no usageNanoCores (a reset, as in the kubelet); the Summary
// encodes as JSON; and the rate cache empties once its entries are older than
// the purge age (no unbounded memory).
func FuzzPodStats(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	root := f.TempDir()

	f.Fuzz(func(t *testing.T, data []byte) {
		g := &fuzzGen{b: data, mountDir: root}
		first := g.answers()
		rounds := []fuzzAnswers{first, g.advance(first), g.answers()}

		clk := fakeclock.New(t0.Add(200 * time.Second))
		p := NewProvider(nil, Options{Now: clk.Now})
		received := make([]time.Time, len(rounds))
		for r, ans := range rounds {
			inv := newInventory(ans.sandboxes, ans.containers)
			received[r] = clk.Now()
			a := p.newAssembly(inv, unknownRuntime)
			var res PodStatsResult
			if ans.strict {
				res = a.fromSandboxStats(ans.podStats, make([]bool, len(inv.pods)))
			} else {
				res = a.fromContainerStats(ans.ctrStats)
			}
			p.rates.purge(clk.Now().Add(-p.opts.RatePurgeAfter))
			checkPodStats(t, r, ans, inv, res)
			if r == 1 && !ans.strict {
				checkResets(t, rounds[0], received[0], ans, received[1], res)
			}
			clk.Set(clk.Now().Add(time.Duration(g.byte()) * time.Second / 2))
		}
		// Nothing seen for longer than the purge age: the cache is empty.
		clk.Set(clk.Now().Add(DefaultRatePurgeAfter + time.Second))
		p.newAssembly(newInventory(nil, nil), unknownRuntime).fromContainerStats(nil)
		p.rates.purge(clk.Now().Add(-p.opts.RatePurgeAfter))
		if n := p.rates.len(); n != 0 {
			t.Fatalf("rate cache holds %d entries after every entry aged past the purge age", n)
		}
	})
}

func checkPodStats(t *testing.T, round int, ans fuzzAnswers, inv *inventory, res PodStatsResult) {
	t.Helper()
	if len(res.Pods) != len(inv.pods) {
		t.Fatalf("round %d: %d pods for %d in the inventory", round, len(res.Pods), len(inv.pods))
	}
	if len(res.Pods) > len(ans.sandboxes) {
		t.Fatalf("round %d: %d pods from %d sandboxes", round, len(res.Pods), len(ans.sandboxes))
	}
	uids := map[string]bool{}
	total := 0
	for _, pod := range res.Pods {
		if pod.PodRef.UID == "" || pod.PodRef.Name == "" {
			t.Fatalf("round %d: pod without UID or name: %+v", round, pod.PodRef)
		}
		if uids[pod.PodRef.UID] {
			t.Fatalf("round %d: pod UID %q reported twice", round, pod.PodRef.UID)
		}
		uids[pod.PodRef.UID] = true
		names := map[string]bool{}
		for _, c := range pod.Containers {
			if c.Name == "" || names[c.Name] {
				t.Fatalf("round %d: pod %s: container name %q empty or repeated", round, pod.PodRef.UID, c.Name)
			}
			names[c.Name] = true
			if _, ok := res.Containers.Find(res.Pods, ContainerKey{PodUID: pod.PodRef.UID, Name: c.Name}); !ok {
				t.Fatalf("round %d: container %s/%s has no container info", round, pod.PodRef.UID, c.Name)
			}
			total++
			if pod.CPU != nil && c.CPU != nil && !ans.strict {
				notBelow(t, round, "cpu usageCoreNanoSeconds", pod.CPU.UsageCoreNanoSeconds, c.CPU.UsageCoreNanoSeconds)
				notBelow(t, round, "cpu usageNanoCores", pod.CPU.UsageNanoCores, c.CPU.UsageNanoCores)
			}
			if pod.Memory != nil && c.Memory != nil && !ans.strict {
				notBelow(t, round, "memory workingSetBytes", pod.Memory.WorkingSetBytes, c.Memory.WorkingSetBytes)
				notBelow(t, round, "memory usageBytes", pod.Memory.UsageBytes, c.Memory.UsageBytes)
				notBelow(t, round, "memory rssBytes", pod.Memory.RSSBytes, c.Memory.RSSBytes)
				notBelow(t, round, "memory pageFaults", pod.Memory.PageFaults, c.Memory.PageFaults)
				notBelow(t, round, "memory majorPageFaults", pod.Memory.MajorPageFaults, c.Memory.MajorPageFaults)
			}
			if pod.Swap != nil && c.Swap != nil && !ans.strict {
				notBelow(t, round, "swap usageBytes", pod.Swap.SwapUsageBytes, c.Swap.SwapUsageBytes)
			}
		}
	}
	if len(res.Containers) != len(res.Pods) || res.Containers.Len() != total {
		t.Fatalf("round %d: container infos for %d pods, %d containers; reported %d pods, %d containers", round, len(res.Containers), res.Containers.Len(), len(res.Pods), total)
	}
	if _, err := json.Marshal(statsapi.Summary{Pods: res.Pods}); err != nil {
		t.Fatalf("round %d: the Summary does not encode: %v", round, err)
	}
}

// checkResets fails when a container whose CPU counter went backwards from
// one round to the next (at a sample time not earlier) still has a
// usageNanoCores. On the partial path, as the provider does, a container's
// stats are the last listed with its ID.
func checkResets(t *testing.T, before fuzzAnswers, at0 time.Time, after fuzzAnswers, at1 time.Time, res PodStatsResult) {
	t.Helper()
	last := func(stats []*runtimeapi.ContainerStats) map[string]*runtimeapi.CpuUsage {
		m := map[string]*runtimeapi.CpuUsage{}
		for _, s := range stats {
			if id := s.GetAttributes().GetId(); id != "" {
				m[id] = s.GetCpu()
			}
		}
		return m
	}
	cpu0, cpu1 := last(before.ctrStats), last(after.ctrStats)
	for _, pod := range res.Pods {
		for _, c := range pod.Containers {
			info, _ := res.Containers.Find(res.Pods, ContainerKey{PodUID: pod.PodRef.UID, Name: c.Name})
			id := info.ID
			s0, s1 := cpu0[id], cpu1[id]
			if s0.GetUsageCoreNanoSeconds() == nil || s1.GetUsageCoreNanoSeconds() == nil || c.CPU == nil {
				continue
			}
			backwards := s1.GetUsageCoreNanoSeconds().GetValue() < s0.GetUsageCoreNanoSeconds().GetValue()
			notEarlier := sampleNanos(s1.GetTimestamp(), at1) >= sampleNanos(s0.GetTimestamp(), at0)
			if backwards && notEarlier && c.CPU.UsageNanoCores != nil {
				t.Fatalf("container %s: counter went from %d to %d, yet usageNanoCores is %d", id,
					s0.GetUsageCoreNanoSeconds().GetValue(), s1.GetUsageCoreNanoSeconds().GetValue(), *c.CPU.UsageNanoCores)
			}
		}
	}
}

// notBelow fails when a pod total summed from containers is below one of them.
func notBelow(t *testing.T, round int, what string, pod, ctr *uint64) {
	t.Helper()
	if ctr == nil {
		return
	}
	if pod != nil && *pod < *ctr {
		t.Fatalf("round %d: pod %s %d is below its container's %d (the sum wrapped around)", round, what, *pod, *ctr)
	}
}
