package statssummaryreceiver

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// procValue reads the number after key in a /proc file ("MemTotal:", "btime").
func procValue(t *testing.T, file, key string) uint64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			v, err := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("%s: no %s", file, key)
	return 0
}

// TestNodeStatsFromThisHost starts the scraper with its real cgroup and host
// providers (the runtime is the CRI test server) and checks the node block of
// the Summary against what this host's files and tools say.
func TestNodeStatsFromThisHost(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	cfg := newTestConfig(srv.Endpoint)
	cfg.Host.KubeletRootDir = t.TempDir()
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	if err := s.start(t.Context(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = s.shutdown(t.Context()) }()

	a, err := s.assembler.Get(t.Context())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	n := a.Summary.Node
	if n.CPU == nil || n.CPU.UsageCoreNanoSeconds == nil || *n.CPU.UsageCoreNanoSeconds == 0 {
		t.Errorf("node cpu = %+v, want the root cgroup's cumulative usage", n.CPU)
	}
	memTotal := procValue(t, "/proc/meminfo", "MemTotal:") * 1024
	if m := n.Memory; m == nil || m.WorkingSetBytes == nil || m.AvailableBytes == nil ||
		*m.AvailableBytes+*m.WorkingSetBytes != memTotal || *m.WorkingSetBytes == 0 {
		t.Errorf("node memory = %+v, want available + working set = MemTotal %d", m, memTotal)
	}
	route, err := exec.Command("ip", "route", "show", "default").Output()
	if err != nil {
		t.Fatalf("ip route: %v", err)
	}
	wantIface := ""
	if f := strings.Fields(string(route)); len(f) >= 5 && f[3] == "dev" {
		wantIface = f[4]
	}
	if n.Network == nil || n.Network.Name != wantIface || wantIface == "" || n.Network.RxBytes == nil || *n.Network.RxBytes == 0 {
		t.Errorf("node network default interface = %+v, want %q (ip route show default) with traffic", n.Network, wantIface)
	}
	if n.Fs == nil || n.Fs.CapacityBytes == nil || *n.Fs.CapacityBytes == 0 || n.Fs.AvailableBytes == nil {
		t.Errorf("node fs = %+v, want statfs of the kubelet root dir", n.Fs)
	}
	if n.Rlimit == nil || n.Rlimit.MaxPID == nil || *n.Rlimit.MaxPID == 0 || n.Rlimit.NumOfRunningProcesses == nil {
		t.Errorf("node rlimit = %+v", n.Rlimit)
	}
	if got, want := n.StartTime.Unix(), int64(procValue(t, "/proc/stat", "btime ")); got != want {
		t.Errorf("node start time = %d, want btime %d", got, want)
	}
	for _, c := range n.SystemContainers {
		if c.Name != statsapi.SystemContainerRuntime && c.Name != statsapi.SystemContainerPods {
			t.Errorf("unexpected system container %q", c.Name)
		}
	}
	if len(a.Summary.Pods) == 0 {
		t.Error("no pods: the runtime's were lost next to the node stats")
	}
}

// psiSomeTotalMicros reads the "some" total of a PSI file, in the kernel's
// microseconds.
func psiSomeTotalMicros(t *testing.T, file string) uint64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("this host has PSI: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if _, v, ok := strings.Cut(line, "total="); ok && strings.HasPrefix(line, "some ") {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s: no some total", file)
	return 0
}

// TestPressureTimeInSecondsFromThisHost scrapes with the real cgroup
// provider and checks k8s.node.cpu.pressure.time{type=some} against
// /proc/pressure/cpu read before and after: the kernel's microseconds become
// the Summary's nanoseconds and the metric's seconds. Before issue 13's PSI
// units fix, cgroup and /proc totals stayed in microseconds and the metric
// was 1000× too low.
func TestPressureTimeInSecondsFromThisHost(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	cfg := newTestConfig(srv.Endpoint)
	cfg.Host.KubeletRootDir = t.TempDir()
	cfg.MetricGroups = []MetricGroup{NodeMetricGroup}
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	// Read before start: its first housekeeping may be the one the scrape uses.
	before := psiSomeTotalMicros(t, "/proc/pressure/cpu")
	if err := s.start(t.Context(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = s.shutdown(t.Context()) }()
	md, err := s.scrape(t.Context())
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	after := psiSomeTotalMicros(t, "/proc/pressure/cpu")
	got, found := 0.0, false
	forEachNumberPoint(md, func(name string, dp pmetric.NumberDataPoint) {
		if name != "k8s.node.cpu.pressure.time" {
			return
		}
		if typ, ok := dp.Attributes().Get("pressure.type"); ok && typ.Str() == "some" {
			got, found = dp.DoubleValue(), true
		}
	})
	if !found {
		t.Fatal("no k8s.node.cpu.pressure.time{pressure.type=some} point")
	}
	lo, hi := float64(before)/1e6, float64(after)/1e6
	if got < lo || got > hi {
		t.Errorf("k8s.node.cpu.pressure.time{some} = %v s, /proc/pressure/cpu said %v → %v s", got, lo, hi)
	}
}
