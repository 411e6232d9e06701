package cadvisor

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/cadvisor/lib/container/libcontainer"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

func TestReadPressure(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    *statsapi.PSIStats
		wantErr string
	}{
		// The kernel's totals are microseconds; the Summary's nanoseconds.
		{"some and full",
			"some avg10=37.22 avg60=58.45 avg300=52.91 total=443717971\nfull avg10=0.50 avg60=0.25 avg300=0.10 total=1200\n",
			&statsapi.PSIStats{
				Some: statsapi.PSIData{Avg10: 37.22, Avg60: 58.45, Avg300: 52.91, Total: 443717971000},
				Full: statsapi.PSIData{Avg10: 0.5, Avg60: 0.25, Avg300: 0.1, Total: 1200000},
			}, ""},
		{"some only", "some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n",
			&statsapi.PSIStats{Some: statsapi.PSIData{Avg10: 1, Avg60: 2, Avg300: 3, Total: 4000}}, ""},
		{"a total beyond uint64 in nanoseconds saturates", "some avg10=0 avg60=0 avg300=0 total=18446744073709552\n",
			&statsapi.PSIStats{Some: statsapi.PSIData{Total: math.MaxUint64}}, ""},
		{"empty", "", nil, "no some or full line"},
		{"bad total", "some avg10=0 avg60=0 avg300=0 total=x\n", nil, "total=x"},
		{"unknown line", "partial avg10=0\n", nil, "unknown line"},
		{"NaN average", "some avg10=NaN avg60=0 avg300=0 total=1\n", nil, "avg10=NaN: not a finite number"},
		{"infinite average", "full avg10=0 avg60=0 avg300=+Inf total=1\n", nil, "avg300=+Inf: not a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "cpu")
			if err := os.WriteFile(f, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readPressure(f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), f) {
					t.Fatalf("err = %v, want one naming %s and %q", err, f, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("readPressure (-want +got):\n%s", d)
			}
		})
	}
}

func TestHostPressureWithoutPSIKernel(t *testing.T) {
	node := &CgroupStats{CPU: &statsapi.CPUStats{}, Memory: &statsapi.MemoryStats{}}
	if errs := addHostPressure(os.ReadFile, node, t.TempDir(), time.Now()); len(errs) != 0 {
		t.Fatalf("a kernel without /proc/pressure is not an error: %v", errs)
	}
	if node.CPU.PSI != nil || node.Memory.PSI != nil || node.IO != nil {
		t.Errorf("pressure set without pressure files: %+v", node)
	}
}

// rawSomeTotal reads the "some" line's total, in the kernel's microseconds,
// from a PSI file, without the code under test.
func rawSomeTotal(t *testing.T, file string) uint64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("this host has PSI: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		_, v, ok := strings.Cut(line, "total=")
		if !ok {
			break
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return n
	}
	t.Fatalf("%s: no some total in %q", file, data)
	return 0
}

// TestNodePressureFromThisHost compares the node's CPU pressure total with
// /proc/pressure/cpu read around one housekeeping: the file's microseconds
// are the Summary's nanoseconds divided by 1000 (issue 13, PSI units).
func TestNodePressureFromThisHost(t *testing.T) {
	before := rawSomeTotal(t, "/proc/pressure/cpu")
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Refresh(); err != nil {
		t.Fatal(err)
	}
	after := rawSomeTotal(t, "/proc/pressure/cpu")
	n := p.Snapshot().Node
	if n.CPU.PSI == nil || !between(n.CPU.PSI.Some.Total, before*1000, after*1000) {
		t.Errorf("node cpu psi = %+v, /proc/pressure/cpu some total went %d → %d µs, want that × 1000 in ns", n.CPU.PSI, before, after)
	}
	if n.Memory.PSI == nil || n.IO == nil || n.IO.PSI == nil {
		t.Errorf("node memory psi %+v, io %+v: want both from /proc/pressure", n.Memory.PSI, n.IO)
	}
}

// unifiedMount is where this host mounts the cgroup v2 hierarchy: the root
// on a v2 host, /sys/fs/cgroup/unified on a v1 hybrid one (this machine).
func unifiedMount(t *testing.T) string {
	t.Helper()
	for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(m, "cgroup.procs")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(m, "cpu.pressure")); err == nil {
			return m
		}
	}
	t.Fatal("no cgroup v2 hierarchy with cpu.pressure on this host (the project's machines have one at /sys/fs/cgroup/unified)")
	return ""
}

// TestCgroupV2PressureTotalsInNanoseconds reads a real cgroup v2 hierarchy's
// cpu.pressure through the same cAdvisor handler the provider uses on a v2
// host, and checks that the sample's total is the file's microseconds in
// nanoseconds. Before issue 13's PSI units fix the cgroup's microseconds were
// passed on as they were, and the receiver's /1e9 made pod pressure times
// 1000× too low.
func TestCgroupV2PressureTotalsInNanoseconds(t *testing.T) {
	dir := unifiedMount(t)
	// Rootless: a hybrid host's v2 hierarchy has no controllers, so pids and
	// memory files are missing; only what is there (cpu.stat, *.pressure) is read.
	mgr, err := fs2.NewManager(&cgroups.Cgroup{Rootless: true, Resources: &cgroups.Resources{}}, dir)
	if err != nil {
		t.Fatalf("fs2 manager for %s: %v", dir, err)
	}
	h := libcontainer.NewHandler(mgr, "/", 0, metrics)
	file := filepath.Join(dir, "cpu.pressure")
	before := rawSomeTotal(t, file)
	raw, err := h.GetStats()
	if err != nil {
		t.Fatalf("cadvisor stats of %s: %v", dir, err)
	}
	after := rawSomeTotal(t, file)
	if before == 0 {
		t.Fatalf("%s: some total is 0, nothing to compare units with", file)
	}
	got, _ := toCgroupStats(dir, raw, nil, 0, true)
	if got.CPU == nil || got.CPU.PSI == nil {
		t.Fatalf("no cpu pressure from %s: %+v", dir, got.CPU)
	}
	if total := got.CPU.PSI.Some.Total; !between(total, before*1000, after*1000) {
		t.Errorf("cpu psi some total = %d, %s said %d → %d µs: want %d → %d ns", total, file, before, after, before*1000, after*1000)
	}
}

// TestZeroPressureIsAReadingWhereTheFilesExist: on cgroup v2 with PSI a cgroup
// that never stalled has *.pressure files of zeros, and the Summary has zeros
// there, as the kubelet's. Before, a sample of zeros was taken for "no file"
// and left out, so the pod of the VM node's integration suite had no memory
// and io pressure at all (nothing stalled it). Without the files (cgroup v1)
// cAdvisor's zeros are still no reading.
func TestZeroPressureIsAReadingWhereTheFilesExist(t *testing.T) {
	raw := &info.ContainerStats{
		Timestamp: time.Unix(1700000000, 0),
		Cpu:       &info.CpuStats{Usage: info.CpuUsage{Total: 5}},
		Memory:    &info.MemoryStats{Usage: 1 << 20, WorkingSet: 1 << 20},
		DiskIo:    &info.DiskIoStats{},
	}
	zeros := &statsapi.PSIStats{}

	v2, _ := toCgroupStats("/kubepods/pod1", raw, nil, 0, true)
	if v2.CPU == nil || v2.Memory == nil || v2.IO == nil {
		t.Fatalf("blocks missing: cpu %v memory %v io %v", v2.CPU, v2.Memory, v2.IO)
	}
	for what, got := range map[string]*statsapi.PSIStats{"cpu": v2.CPU.PSI, "memory": v2.Memory.PSI, "io": v2.IO.PSI} {
		if diff := cmp.Diff(zeros, got); diff != "" {
			t.Errorf("%s PSI with pressure files of zeros (-want +got):\n%s", what, diff)
		}
	}

	v1, _ := toCgroupStats("/kubepods/pod1", raw, nil, 0, false)
	if v1.CPU.PSI != nil || v1.Memory.PSI != nil || v1.IO != nil {
		t.Errorf("without pressure files: cpu PSI %v, memory PSI %v, io %v; want none", v1.CPU.PSI, v1.Memory.PSI, v1.IO)
	}
}

// A libcontainer reading with a NaN or infinite average is no reading (nil),
// as readPressure refuses one: JSON cannot hold it. Finite zeros stay a
// reading where the files exist.
func TestPSIWithNonFiniteAverageIsNoReading(t *testing.T) {
	for _, p := range []info.PSIStats{
		{Some: info.PSIData{Avg10: math.NaN(), Total: 5}},
		{Full: info.PSIData{Avg300: math.Inf(1)}},
		{Some: info.PSIData{Avg60: math.Inf(-1)}, Full: info.PSIData{Avg10: 1}},
	} {
		if got := psiStats(p, true); got != nil {
			t.Errorf("psiStats(%+v) = %+v, want nil", p, got)
		}
	}
	want := &statsapi.PSIStats{Some: statsapi.PSIData{Avg10: 1.5, Total: 2000}}
	if d := cmp.Diff(want, psiStats(info.PSIStats{Some: info.PSIData{Avg10: 1.5, Total: 2}}, true)); d != "" {
		t.Errorf("finite reading (-want +got):\n%s", d)
	}
}
