package summary

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/cgroupenv"
)

// TestIdentityPlanInTheDefaultMode: the default mode (cri+cadvisor) under
// the identity plan, over a CRI server on a unix socket and real cgroups
// with processes in them. While a container's cgroup sample has no rate yet
// the runtime is asked for its stats, and its values are kept — the cgroups
// fill only what it left empty; once the cgroups hold every pod's and
// container's CPU and memory, the next scrape asks the runtime for identity
// alone, and the pod's and containers' CPU and memory are their cgroups'
// (the runtime's figures, deliberately unlike any cgroup's, are gone from
// that scrape because the runtime was not asked for them).
func TestIdentityPlanInTheDefaultMode(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-identity")
	pod := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-0000000000d0", 'a', 'b')
	const runtimeCPU, runtimeMem = 123_456_789, 7 << 20
	srv := crifake.New(t)
	srv.SetState(criState([]realPod{pod}, runtimeCPU, runtimeMem, true, 2*runtimeCPU, 2*runtimeMem))

	conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	pods := cri.NewProvider(cri.NewClient(conn, 2*time.Second), cri.Options{StatsEvery: time.Hour})
	require.True(t, pods.IdentityPlan())
	cg, err := cadvisor.New(cadvisor.Options{PodsCgroup: env.Root, TrackContainers: true})
	require.NoError(t, err)
	a := NewAssembler(Options{NodeName: "n", Pods: pods, Cgroups: cg, Mode: ModeAuto, CgroupMaxAge: time.Nanosecond})

	ctrCgroup := pod.cgroup + "/" + pod.containerIDs[0]
	var paths []cri.StatsPath
	var last *Assembly
	for range 4 {
		time.Sleep(20 * time.Millisecond) // a cgroup rate needs two samples apart
		got, err := a.Get(t.Context())
		require.NoError(t, err)
		paths = append(paths, got.StatsPath)
		if got.StatsPath != cri.PathIdentity {
			// The runtime's values are kept, field by field.
			p := podByUID(t, got.Summary, pod.uid)
			c := p.Containers[0]
			require.NotNil(t, c.CPU)
			assert.Equal(t, uint64(runtimeCPU), *c.CPU.UsageCoreNanoSeconds, "the runtime's container CPU time, kept")
			assert.Equal(t, uint64(runtimeMem), *c.Memory.WorkingSetBytes, "the runtime's container working set, kept")
			assert.Equal(t, uint64(2*runtimeCPU), *p.CPU.UsageCoreNanoSeconds, "the runtime's pod CPU time, kept")
			continue
		}
		last = got
		break
	}
	require.Equal(t, []cri.StatsPath{cri.PathStrict, cri.PathStrict, cri.PathIdentity}, paths,
		"stats while the first cgroup samples have no rate; identity once the cgroups held every pod and container")
	assert.Equal(t, 2, srv.Calls("ListPodSandboxStats"), "the runtime's stats only before the identity answer")
	// Listed at the first scrape, kept at the second (strict, the plan not
	// allowed yet, and the stats answer agreed with the lists: the cri
	// package's listCache), listed for the identity answer.
	assert.Equal(t, 2, srv.Calls("ListContainers"), "identity at every scrape but a strict one the lists agreed with")

	before := env.CPUUsage(ctrCgroup)
	podBefore := env.CPUUsage(pod.cgroup)
	time.Sleep(20 * time.Millisecond)
	got, err := a.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, cri.PathIdentity, got.StatsPath)
	after, podAfter := env.CPUUsage(ctrCgroup), env.CPUUsage(pod.cgroup)
	p := podByUID(t, got.Summary, pod.uid)
	c := p.Containers[0]
	require.NotNil(t, c.CPU, "container CPU from its cgroup")
	require.NotNil(t, c.CPU.UsageCoreNanoSeconds)
	require.NotNil(t, c.CPU.UsageNanoCores, "the cgroup's rate")
	assert.GreaterOrEqual(t, *c.CPU.UsageCoreNanoSeconds, before, "container CPU time vs its cgroup before the scrape")
	assert.LessOrEqual(t, *c.CPU.UsageCoreNanoSeconds, after, "container CPU time vs its cgroup after the scrape")
	require.NotNil(t, p.CPU)
	assert.GreaterOrEqual(t, *p.CPU.UsageCoreNanoSeconds, podBefore, "pod CPU time vs its cgroup before the scrape")
	assert.LessOrEqual(t, *p.CPU.UsageCoreNanoSeconds, podAfter, "pod CPU time vs its cgroup after the scrape")
	require.NotNil(t, c.Memory, "container memory from its cgroup")
	require.NotNil(t, c.Memory.WorkingSetBytes)
	usage := memoryUsage(t, env, ctrCgroup)
	assert.Positive(t, *c.Memory.WorkingSetBytes)
	assert.LessOrEqual(t, *c.Memory.WorkingSetBytes, usage+1<<20, "container working set vs its cgroup's usage")
	assert.NotEqual(t, uint64(runtimeMem), *c.Memory.WorkingSetBytes, "not the runtime's figure")

	for _, a := range []*Assembly{last, got} {
		o, ok := a.Provenance.Pod(pod.uid)
		require.True(t, ok)
		assert.Equal(t, OriginCAdvisor, o.CPU, "pod CPU from its cgroup")
		assert.Equal(t, OriginCAdvisor, o.Memory, "pod memory from its cgroup")
		for _, name := range []string{"app-a"} {
			co, ok := a.Provenance.Container(pod.uid, name)
			require.True(t, ok, name)
			assert.Equal(t, OriginCAdvisor, co.CPU, "container %s CPU from its cgroup", name)
			assert.Equal(t, OriginCAdvisor, co.Memory, "container %s memory from its cgroup", name)
		}
	}
}

// memoryUsage is cgroup name's memory usage in bytes, from the file the
// kernel keeps it in.
func memoryUsage(t *testing.T, env *cgroupenv.Env, name string) uint64 {
	t.Helper()
	file := "memory.usage_in_bytes"
	if env.V2 {
		file = "memory.current"
	}
	b, err := os.ReadFile(env.File(name, file))
	require.NoError(t, err)
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	require.NoError(t, err)
	return v
}
