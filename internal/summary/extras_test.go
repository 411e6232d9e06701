package summary

import (
	"context"
	"strconv"
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

// specPods is a PodMetadata over fixed pods.
type specPods map[string]PodInfo

func (s specPods) Pod(uid string) (PodInfo, bool) { p, ok := s[uid]; return p, ok }

// setCgroupLimits writes a container cgroup's limits as the kubelet's runtime
// would for a CPU limit of quota/period cores, the given v1 shares (their v2
// weight on a v2 host) and a memory limit (0: none).
func setCgroupLimits(env *cgroupenv.Env, cg string, quota, period, shares, memory uint64) {
	q, m := strconv.FormatUint(quota, 10), strconv.FormatUint(memory, 10)
	if env.V2 {
		if quota == 0 {
			q = "max"
		}
		if memory == 0 {
			m = "max"
		}
		env.Set(cg, "cpu.max", q+" "+strconv.FormatUint(period, 10))
		env.Set(cg, "cpu.weight", strconv.FormatUint(1+((shares-2)*9999)/262142, 10))
		env.Set(cg, "memory.max", m)
		return
	}
	if quota == 0 {
		q = "-1"
	}
	if memory == 0 {
		m = "-1"
	}
	env.Set(cg, "cpu.cfs_period_us", strconv.FormatUint(period, 10))
	env.Set(cg, "cpu.cfs_quota_us", q)
	env.Set(cg, "cpu.shares", strconv.FormatUint(shares, 10))
	env.Set(cg, "memory.limit_in_bytes", m)
}

// TestExtrasOnRealCgroups assembles a pod of three containers over a CRI test
// server and real cgroups: one whose runtime reports its resources (they
// win), one whose runtime does not (its cgroup's limits are read), one it
// reports nothing for and whose cgroup has no limits. Then one is resized in
// place: its cgroup changes and the runtime is asked again, once.
func TestExtrasOnRealCgroups(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-extras")
	p := makeRealPod(t, env, "7a6b5c4d-0000-4c55-9a0b-000000000001", '9', 'a', 'b', 'c', 'd')
	st := criState([]realPod{p}, 1e9, 64<<20, true, 3e9, 192<<20)
	// 500m of 1 core and 256 MiB, request 250m: the runtime says so.
	st.ContainerStatuses = []*runtimeapi.ContainerStatus{{Id: p.containerIDs[0], Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{
		CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 256, MemoryLimitInBytes: 256 << 20,
	}}}}
	setCgroupLimits(env, p.cgroup+"/"+p.containerIDs[0], 50000, 100000, 256, 256<<20)
	// 200m and 1 GB (not page-aligned: the kernel keeps 999997440), request
	// 100m: only the cgroup says so.
	setCgroupLimits(env, p.cgroup+"/"+p.containerIDs[1], 20000, 100000, 102, 1_000_000_000)
	// No limits, BestEffort's shares.
	setCgroupLimits(env, p.cgroup+"/"+p.containerIDs[2], 0, 100000, 2, 0)
	setCgroupLimits(env, p.cgroup+"/"+p.containerIDs[3], 0, 100000, 1024, 0)
	srv := crifake.New(t)
	srv.SetState(st)

	conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	pods := cri.NewProvider(cri.NewClient(conn, 2*time.Second), cri.Options{})
	files, err := cadvisor.NewFiles(cadvisor.FilesOptions{PodsCgroup: env.Root})
	require.NoError(t, err)
	t.Cleanup(files.Close)
	a := NewAssembler(Options{
		NodeName: "n", Pods: pods, Mode: ModeCRI,
		Extras: ExtrasOptions{Resources: true, Counters: true}, Files: files, Resources: pods,
		// The spec gives memory requests, which the node cannot know.
		PodMetadata: specPods{p.uid: {Containers: []ContainerSpec{
			{Name: "app-a", Resources: Resources{MemoryRequest: 128 << 20}},
			{Name: "app-b", Resources: Resources{MemoryRequest: 1 << 30}},
			{Name: "app-c"}, {Name: "app-d"},
		}}},
	})
	get := func() *Assembly {
		out, err := a.Get(t.Context())
		require.NoError(t, err)
		require.NotNil(t, out.Extras)
		require.Len(t, out.Extras.Pods, 1)
		return out
	}
	out := get()
	pe := out.Extras.Pods[0]
	byName := map[string]ContainerExtras{}
	for j, c := range podByUID(t, out.Summary, p.uid).Containers {
		byName[c.Name] = pe.Containers[j]
	}
	assert.Equal(t, ContainerExtras{ResourcesFrom: ResourcesFromRuntime, Resources: Resources{CPULimit: 0.5, CPURequest: 0.25, MemoryLimit: 256 << 20, MemoryRequest: 128 << 20}}, withoutCounters(byName["app-a"]))
	wantB := Resources{CPULimit: 0.2, CPURequest: 0.1, MemoryLimit: 999997440, MemoryRequest: 1 << 30}
	assert.Equal(t, ContainerExtras{ResourcesFrom: ResourcesFromCgroup, Resources: wantB}, withoutCounters(byName["app-b"]))
	assert.Equal(t, ContainerExtras{ResourcesFrom: ResourcesFromCgroup}, withoutCounters(byName["app-c"]))
	assert.Equal(t, 1.0, byName["app-d"].Resources.CPURequest, "shares 1024: 1 core")
	// The pod, as kubeletstats sums it: app-c has no request or limit at
	// all, so none of the four is set for the pod.
	assert.Equal(t, Resources{}, pe.Resources)
	assert.Equal(t, 4, srv.Calls("ContainerStatus"), "each container asked once")
	// The counters are the cgroups': every container has the throttling
	// stats of its cpu.stat.
	for name, c := range byName {
		assert.NotZero(t, c.Counters.Has&cadvisor.HasThrottling, "%s throttling counters", name)
	}
	assert.NotZero(t, pe.Counters.Has&cadvisor.HasThrottling, "pod throttling counters")

	get()
	assert.Equal(t, 4, srv.Calls("ContainerStatus"), "nothing changed: nothing asked")

	// An in-place resize of app-a to 1 core and 512 MiB: the runtime updates
	// its cgroup and its status.
	setCgroupLimits(env, p.cgroup+"/"+p.containerIDs[0], 100000, 100000, 256, 512<<20)
	st.ContainerStatuses[0].Resources.Linux.CpuQuota = 100000
	st.ContainerStatuses[0].Resources.Linux.MemoryLimitInBytes = 512 << 20
	srv.SetState(st)
	out = get()
	assert.Equal(t, 5, srv.Calls("ContainerStatus"), "the resized container asked again")
	for j, c := range podByUID(t, out.Summary, p.uid).Containers {
		if c.Name == "app-a" {
			assert.Equal(t, Resources{CPULimit: 1, CPURequest: 0.25, MemoryLimit: 512 << 20, MemoryRequest: 128 << 20}, out.Extras.Pods[0].Containers[j].Resources)
		}
	}
}

func withoutCounters(c ContainerExtras) ContainerExtras {
	c.Counters = cadvisor.CgroupCounters{}
	return c
}

// fakeFiles answers Read with fixed container limits.
type fakeFiles struct {
	v2     bool
	limits map[string]cadvisor.CgroupLimits // by container ID
}

func (f fakeFiles) V2() bool { return f.v2 }

func (f fakeFiles) Read(pods []cadvisor.PodRef, _ cadvisor.What) []cadvisor.PodFiles {
	out := make([]cadvisor.PodFiles, len(pods))
	for i, p := range pods {
		out[i].Found = true
		out[i].Containers = make([]cadvisor.ContainerFiles, len(p.ContainerIDs))
		for j, id := range p.ContainerIDs {
			l, ok := f.limits[id]
			out[i].Containers[j] = cadvisor.ContainerFiles{Found: ok, Limits: l}
		}
	}
	return out
}

// fakeRuntime answers ContainerResources from fixed answers.
type fakeRuntime map[string]cri.Resources

func (f fakeRuntime) ContainerResources(_ context.Context, qs []cri.ResourceQuery) []cri.ResourceAnswer {
	out := make([]cri.ResourceAnswer, len(qs))
	for i, q := range qs {
		if r, ok := f[q.ID]; ok {
			out[i] = cri.ResourceAnswer{Resources: r, Known: true}
		}
	}
	return out
}

// TestPodResourcesAsKubeletstats: a pod's request or limit is the sum over
// its containers when every one has it, else unset; with the pod spec known,
// its containers count, running or not.
func TestPodResourcesAsKubeletstats(t *testing.T) {
	both := Resources{CPURequest: 0.1, CPULimit: 0.2, MemoryRequest: 100, MemoryLimit: 200}
	tests := []struct {
		name  string
		ctrs  []Resources
		names []string
		spec  *PodInfo
		want  Resources
	}{
		{name: "no containers", want: Resources{}},
		{name: "one", ctrs: []Resources{both}, names: []string{"a"}, want: both},
		{name: "two, all set", ctrs: []Resources{both, both}, names: []string{"a", "b"}, want: Resources{CPURequest: 0.2, CPULimit: 0.4, MemoryRequest: 200, MemoryLimit: 400}},
		{
			name: "one without a CPU limit: no pod CPU limit", ctrs: []Resources{both, {CPURequest: 0.1, MemoryRequest: 100, MemoryLimit: 200}}, names: []string{"a", "b"},
			want: Resources{CPURequest: 0.2, MemoryRequest: 200, MemoryLimit: 400},
		},
		{
			name: "a spec container not running counts with its spec", ctrs: []Resources{both}, names: []string{"a"},
			spec: &PodInfo{Containers: []ContainerSpec{{Name: "a"}, {Name: "b", Resources: Resources{CPURequest: 1, MemoryLimit: 5}}}},
			want: Resources{CPURequest: 1.1, MemoryLimit: 205},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := make([]statsapi.ContainerStats, len(tt.ctrs))
			ex := make([]ContainerExtras, len(tt.ctrs))
			for j := range tt.ctrs {
				cs[j].Name, ex[j].Resources = tt.names[j], tt.ctrs[j]
			}
			var spec PodInfo
			if tt.spec != nil {
				spec = *tt.spec
			}
			assert.Equal(t, tt.want, podResources(cs, ex, spec, tt.spec != nil))
		})
	}
}

// TestContainerResourcesPrecedence: the runtime's values, else the cgroup's
// (v1 shares or v2 weight), else the spec's; the memory request is the
// spec's only.
func TestContainerResourcesPrecedence(t *testing.T) {
	const uid = "u"
	ids := cri.ContainerInfos{{{ID: "rt"}, {ID: "cg"}, {ID: "spec"}, {ID: "none"}}}
	pods := []statsapi.PodStats{{PodRef: statsapi.PodReference{UID: uid}, Containers: []statsapi.ContainerStats{{Name: "rt"}, {Name: "cg"}, {Name: "spec"}, {Name: "none"}}}}
	spec := PodInfo{Containers: []ContainerSpec{
		{Name: "rt", Resources: Resources{CPULimit: 9, MemoryRequest: 1}},
		{Name: "cg", Resources: Resources{CPULimit: 9, MemoryRequest: 2}},
		{Name: "spec", Resources: Resources{CPULimit: 3, CPURequest: 1, MemoryLimit: 4, MemoryRequest: 3}},
	}}
	for _, v2 := range []bool{false, true} {
		t.Run("v2="+strconv.FormatBool(v2), func(t *testing.T) {
			cg := cadvisor.CgroupLimits{Known: true, CPUQuota: 25000, CPUPeriod: 50000, MemoryLimit: 4096}
			if v2 {
				cg.CPUWeight = 39 // 976m–1000m: 1000m
			} else {
				cg.CPUShares = 1024
			}
			a := NewAssembler(Options{
				Extras:      ExtrasOptions{Resources: true},
				Files:       fakeFiles{v2: v2, limits: map[string]cadvisor.CgroupLimits{"rt": cg, "cg": cg}},
				Resources:   fakeRuntime{"rt": {CPUPeriod: 100000, CPUQuota: 150000, CPUShares: 512, MemoryLimit: 1 << 20}},
				PodMetadata: specPods{uid: spec},
			})
			ex := a.gatherExtras(t.Context(), pods, ids, NodeCapacity{CPU: 2, Memory: 8 << 30})
			assert.Equal(t, NodeCapacity{CPU: 2, Memory: 8 << 30}, ex.Capacity)
			got := ex.Pods[0].Containers
			assert.Equal(t, ContainerExtras{ResourcesFrom: ResourcesFromRuntime, Resources: Resources{CPULimit: 1.5, CPURequest: 0.5, MemoryLimit: 1 << 20, MemoryRequest: 1}}, got[0])
			assert.Equal(t, ContainerExtras{ResourcesFrom: ResourcesFromCgroup, Resources: Resources{CPULimit: 0.5, CPURequest: 1, MemoryLimit: 4096, MemoryRequest: 2}}, got[1])
			assert.Equal(t, ContainerExtras{ResourcesFrom: ResourcesFromMetadata, Resources: spec.Containers[2].Resources}, got[2])
			assert.Equal(t, ContainerExtras{}, got[3], "nothing known")
		})
	}
}
