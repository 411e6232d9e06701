package summary

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/cgroupenv"
)

// realPod is a pod made of real cgroups (the pod's, its sandbox's and its app
// containers', each app container and the sandbox with a sleeping process),
// described to a CRI test server as a runtime would describe it.
type realPod struct {
	uid, sandboxID string
	containerIDs   []string
	cgroup         string // the pod cgroup's name
}

// hexID is a 64-digit container ID made of one repeated digit.
func hexID(digit byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = digit
	}
	return string(b)
}

// makeRealPod makes a pod cgroup under env's root with a sandbox cgroup and
// one cgroup per app container, each holding one sleeping process.
func makeRealPod(t *testing.T, env *cgroupenv.Env, uid string, sandboxDigit byte, containerDigits ...byte) realPod {
	t.Helper()
	p := realPod{uid: uid, sandboxID: hexID(sandboxDigit), cgroup: env.Root + "/pod" + uid}
	env.Make(p.cgroup, p.cgroup+"/"+p.sandboxID)
	env.Sleeper(p.cgroup + "/" + p.sandboxID)
	for _, d := range containerDigits {
		id := hexID(d)
		p.containerIDs = append(p.containerIDs, id)
		env.Make(p.cgroup + "/" + id)
		env.Sleeper(p.cgroup + "/" + id)
	}
	return p
}

// criState is what a runtime answers for pods: each sandbox ready, each app
// container running with CPU and memory stats whose values are given; with
// strict, also ListPodSandboxStats with pod totals of podCPU and podMem.
func criState(pods []realPod, ctrCPU, ctrMem uint64, strict bool, podCPU, podMem uint64) crifake.State {
	now := time.Now().UnixNano()
	var st crifake.State
	if strict {
		st.PodSandboxStats = []*runtimeapi.PodSandboxStats{}
	}
	for i, p := range pods {
		st.Sandboxes = append(st.Sandboxes, &runtimeapi.PodSandbox{
			Id:        p.sandboxID,
			Metadata:  &runtimeapi.PodSandboxMetadata{Name: "pod-" + p.uid[:4], Namespace: "test", Uid: p.uid},
			State:     runtimeapi.PodSandboxState_SANDBOX_READY,
			CreatedAt: now - int64(time.Hour) + int64(i),
		})
		var ctrs []*runtimeapi.ContainerStats
		for j, id := range p.containerIDs {
			st.Containers = append(st.Containers, &runtimeapi.Container{
				Id:           id,
				PodSandboxId: p.sandboxID,
				Metadata:     &runtimeapi.ContainerMetadata{Name: "app-" + string(rune('a'+j))},
				State:        runtimeapi.ContainerState_CONTAINER_RUNNING,
				CreatedAt:    now - int64(time.Minute),
			})
			cs := &runtimeapi.ContainerStats{
				Attributes: &runtimeapi.ContainerAttributes{Id: id},
				Cpu:        &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: ctrCPU}},
				Memory: &runtimeapi.MemoryUsage{
					Timestamp:       now,
					WorkingSetBytes: &runtimeapi.UInt64Value{Value: ctrMem},
					UsageBytes:      &runtimeapi.UInt64Value{Value: ctrMem},
					AvailableBytes:  &runtimeapi.UInt64Value{Value: 0},
				},
			}
			st.ContainerStats = append(st.ContainerStats, cs)
			ctrs = append(ctrs, cs)
		}
		if strict {
			st.PodSandboxStats = append(st.PodSandboxStats, &runtimeapi.PodSandboxStats{
				Attributes: &runtimeapi.PodSandboxAttributes{Id: p.sandboxID},
				Linux: &runtimeapi.LinuxPodSandboxStats{
					Cpu: &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: podCPU}},
					Memory: &runtimeapi.MemoryUsage{
						Timestamp:       now,
						WorkingSetBytes: &runtimeapi.UInt64Value{Value: podMem},
						UsageBytes:      &runtimeapi.UInt64Value{Value: podMem},
					},
					Process:    &runtimeapi.ProcessUsage{Timestamp: now, ProcessCount: &runtimeapi.UInt64Value{Value: uint64(len(p.containerIDs))}},
					Containers: ctrs,
				},
			})
		}
	}
	return st
}

// realAssembler is an assembler in the cri+cadvisor mode over a CRI provider
// talking to srv on its unix socket and a cgroup provider reading env's pods.
func realAssembler(t *testing.T, srv *crifake.Server, env *cgroupenv.Env, opts cri.Options) (*Assembler, *cri.Provider, *cadvisor.Provider) {
	t.Helper()
	conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	opts.SkipLogs = true
	pods := cri.NewProvider(cri.NewClient(conn, 2*time.Second), opts)
	cg, err := cadvisor.New(cadvisor.Options{PodsCgroup: env.Root})
	require.NoError(t, err)
	a := NewAssembler(Options{NodeName: "n", Pods: pods, Cgroups: cg, Mode: ModeCRIFill})
	return a, pods, cg
}

func podByUID(t *testing.T, s *statsapi.Summary, uid string) *statsapi.PodStats {
	t.Helper()
	for i := range s.Pods {
		if s.Pods[i].PodRef.UID == uid {
			return &s.Pods[i]
		}
	}
	t.Fatalf("pod %s missing from the Summary", uid)
	return nil
}

// TestPartialPathProcessCountExcludesPause (issue 14, defect 8): on the
// partial path the pod's process count comes from its cgroup, where the
// sandbox's pause process lives too. It is counted as containerd counts on
// the strict path — its app containers' processes only — so a pod with one
// app container counts 1, not 2, and one with two app containers counts 2.
// Before the fix every pod counted one process more than the runtime does.
func TestPartialPathProcessCountExcludesPause(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-procs")
	one := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-000000000001", 'a', 'b')
	two := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-000000000002", 'c', 'd', 'e')

	srv := crifake.New(t)
	srv.SetState(criState([]realPod{one, two}, 1e9, 1<<20, false, 0, 0)) // ListPodSandboxStats Unimplemented
	a, pods, _ := realAssembler(t, srv, env, cri.Options{})
	got, err := a.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, cri.PathPartial, pods.Path())

	for _, tc := range []struct {
		pod  realPod
		want uint64
	}{{one, 1}, {two, 2}} {
		var app uint64
		for _, id := range tc.pod.containerIDs {
			app += env.Procs(tc.pod.cgroup + "/" + id)
		}
		require.Equal(t, tc.want, app, "the app containers' cgroup.procs")
		require.Equal(t, uint64(1), env.Procs(tc.pod.cgroup+"/"+tc.pod.sandboxID), "the sandbox's cgroup.procs")
		p := podByUID(t, got.Summary, tc.pod.uid)
		require.NotNil(t, p.ProcessStats, "pod %s process stats", tc.pod.uid)
		require.NotNil(t, p.ProcessStats.ProcessCount)
		assert.Equal(t, tc.want, *p.ProcessStats.ProcessCount, "pod %s: app containers' processes, the pause process left out", tc.pod.uid)
		o, _ := got.Provenance.Pod(tc.pod.uid)
		assert.Equal(t, OriginCAdvisor, o.Process, "pod %s process count from its cgroup", tc.pod.uid)
	}
}
