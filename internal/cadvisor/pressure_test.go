package cadvisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

func TestReadPressure(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    *statsapi.PSIStats
		wantErr string
	}{
		{"some and full",
			"some avg10=37.22 avg60=58.45 avg300=52.91 total=443717971\nfull avg10=0.50 avg60=0.25 avg300=0.10 total=1200\n",
			&statsapi.PSIStats{
				Some: statsapi.PSIData{Avg10: 37.22, Avg60: 58.45, Avg300: 52.91, Total: 443717971},
				Full: statsapi.PSIData{Avg10: 0.5, Avg60: 0.25, Avg300: 0.1, Total: 1200},
			}, ""},
		{"some only", "some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n",
			&statsapi.PSIStats{Some: statsapi.PSIData{Avg10: 1, Avg60: 2, Avg300: 3, Total: 4}}, ""},
		{"empty", "", nil, "no some or full line"},
		{"bad total", "some avg10=0 avg60=0 avg300=0 total=x\n", nil, "total=x"},
		{"unknown line", "partial avg10=0\n", nil, "unknown line"},
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
	if errs := addHostPressure(node, t.TempDir(), time.Now()); len(errs) != 0 {
		t.Fatalf("a kernel without /proc/pressure is not an error: %v", errs)
	}
	if node.CPU.PSI != nil || node.Memory.PSI != nil || node.IO != nil {
		t.Errorf("pressure set without pressure files: %+v", node)
	}
}

// TestNodePressureFromThisHost compares the node's CPU pressure total with
// /proc/pressure/cpu read around one housekeeping.
func TestNodePressureFromThisHost(t *testing.T) {
	before, err := readPressure("/proc/pressure/cpu")
	if err != nil {
		t.Fatalf("this host has PSI: %v", err)
	}
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Refresh(); err != nil {
		t.Fatal(err)
	}
	after, err := readPressure("/proc/pressure/cpu")
	if err != nil {
		t.Fatal(err)
	}
	n := p.Snapshot().Node
	if n.CPU.PSI == nil || !between(n.CPU.PSI.Some.Total, before.Some.Total, after.Some.Total) {
		t.Errorf("node cpu psi = %+v, /proc/pressure/cpu some total went %d → %d", n.CPU.PSI, before.Some.Total, after.Some.Total)
	}
	if n.Memory.PSI == nil || n.IO == nil || n.IO.PSI == nil {
		t.Errorf("node memory psi %+v, io %+v: want both from /proc/pressure", n.Memory.PSI, n.IO)
	}
}
