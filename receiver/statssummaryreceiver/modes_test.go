package statssummaryreceiver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// cgroupMounts finds the v1 hierarchies of the controllers a pod's CPU and
// memory need, from /proc/self/mounts.
func cgroupMounts(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{"cpu": true, "cpuacct": true, "memory": true, "pids": true}
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[2] != "cgroup" {
			continue
		}
		for opt := range strings.SplitSeq(fields[3], ",") {
			if want[opt] {
				out[opt] = fields[1]
			}
		}
	}
	if len(out) != len(want) {
		t.Fatalf("cgroup v1 hierarchies found %v, want cpu, cpuacct, memory and pids", out)
	}
	return out
}

// TestModesWithRealCgroups runs the receiver's assembly in each mode over a
// runtime (the CRI test server, partial path) and real pod and container
// cgroups made under a test kubepods root, in which a process has used CPU
// and exited. The runtime's container CPU is a tiny fake value, so which
// source fed each block shows in the numbers and in the provenance.
func TestModesWithRealCgroups(t *testing.T) {
	mounts := cgroupMounts(t)
	root := fmt.Sprintf("/statssummary-rx-%d", os.Getpid())
	uid := "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"
	cid := strings.Repeat("ab12", 16)
	pod, ctr := root+"/pod"+uid, root+"/pod"+uid+"/"+cid
	for _, name := range []string{root, pod, ctr} {
		for _, m := range mounts {
			dir := filepath.Join(m, name)
			if _, err := os.Stat(dir); err == nil {
				continue // cpu and cpuacct may share a hierarchy
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				deadline := time.Now().Add(5 * time.Second)
				for os.Remove(dir) != nil && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if _, err := os.Stat(dir); err == nil {
					t.Errorf("cgroup %s left behind", dir)
				}
			})
		}
	}
	// A process counts to 100000 in the container cgroup and exits: the CPU
	// counters then hold still.
	cmd := exec.Command("sh", "-c", `read _; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if err := os.WriteFile(filepath.Join(m, ctr, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("busy process: %v", err)
	}
	cpuacct := func(cg string) uint64 {
		b, err := os.ReadFile(filepath.Join(mounts["cpuacct"], cg, "cpuacct.usage"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	podCPU, ctrCPU := cpuacct(pod), cpuacct(ctr)
	if ctrCPU == 0 || podCPU < ctrCPU {
		t.Fatalf("cpuacct.usage pod %d, container %d: want the container's CPU within the pod's", podCPU, ctrCPU)
	}

	const runtimeCPU = 5000 // ns: what the fake runtime says
	state := crifake.State{
		Sandboxes: []*runtimeapi.PodSandbox{{Id: "sb", State: runtimeapi.PodSandboxState_SANDBOX_READY, CreatedAt: ns(0),
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "shop", Uid: uid}}},
		Containers: []*runtimeapi.Container{{Id: cid, PodSandboxId: "sb", State: runtimeapi.ContainerState_CONTAINER_RUNNING, CreatedAt: ns(time.Second),
			Metadata: &runtimeapi.ContainerMetadata{Name: "app"}}},
		ContainerStats: []*runtimeapi.ContainerStats{{Attributes: &runtimeapi.ContainerAttributes{Id: cid},
			Cpu: &runtimeapi.CpuUsage{Timestamp: ns(100 * time.Second), UsageCoreNanoSeconds: testkit.U64(runtimeCPU)}}},
		ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{UsedBytes: testkit.U64(1 << 30)}}},
	}
	tests := []struct {
		mode                     string
		wantPodCPU, wantCtrCPU   uint64
		wantPodFrom, wantCtrFrom summary.Origin
	}{
		{"cri", runtimeCPU, runtimeCPU, summary.OriginCRI, summary.OriginCRI},
		// The runtime gave no pod stats (partial path): its pod total is a
		// container sum, and the pod cgroup's own total replaces it.
		{"cri+cadvisor", podCPU, runtimeCPU, summary.OriginCAdvisor, summary.OriginCRI},
		{"cadvisor", podCPU, ctrCPU, summary.OriginCAdvisor, summary.OriginCAdvisor},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			srv := crifake.New(t)
			srv.SetState(state)
			cfg := newTestConfig(srv.Endpoint)
			cfg.Mode = tt.mode
			cfg.Cgroups.PodsCgroup = root
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
			if len(a.Summary.Pods) != 1 || len(a.Summary.Pods[0].Containers) != 1 {
				t.Fatalf("pods = %+v, want web with app", a.Summary.Pods)
			}
			p := a.Summary.Pods[0]
			if got := *p.CPU.UsageCoreNanoSeconds; got != tt.wantPodCPU {
				t.Errorf("pod cpu = %d, want %d", got, tt.wantPodCPU)
			}
			if got := *p.Containers[0].CPU.UsageCoreNanoSeconds; got != tt.wantCtrCPU {
				t.Errorf("container cpu = %d, want %d", got, tt.wantCtrCPU)
			}
			if got, _ := a.Provenance.Pod(uid); got.CPU != tt.wantPodFrom {
				t.Errorf("pod cpu from %s, want %s", got.CPU, tt.wantPodFrom)
			}
			if got, _ := a.Provenance.Container(uid, "app"); got.CPU != tt.wantCtrFrom {
				t.Errorf("container cpu from %s, want %s", got.CPU, tt.wantCtrFrom)
			}
		})
	}
}
