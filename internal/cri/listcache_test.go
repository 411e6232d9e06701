package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
)

// node is a runtime state built the way containerd answers (listCache's
// doc): the stats answer holds every READY sandbox, with every container of
// it, those RUNNING with CPU usage and the others without.
type node struct {
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
	cpu        uint64    // every running container's CPU counter
	at         time.Time // its sample time
}

func (n *node) state() crifake.State {
	st := crifake.State{Sandboxes: n.sandboxes, Containers: n.containers, PodSandboxStats: []*runtimeapi.PodSandboxStats{}}
	for _, sb := range n.sandboxes {
		if sb.GetState() != ready {
			continue
		}
		ps := &runtimeapi.PodSandboxStats{Attributes: &runtimeapi.PodSandboxAttributes{Id: sb.GetId()}, Linux: &runtimeapi.LinuxPodSandboxStats{}}
		for _, c := range n.containers {
			if c.GetPodSandboxId() != sb.GetId() {
				continue
			}
			cs := &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{Id: c.GetId()}}
			if c.GetState() == running {
				cs = cpuMem(c.GetId(), n.cpu, 10)
				cs.Cpu.Timestamp = n.at.UnixNano()
			}
			ps.Linux.Containers = append(ps.Linux.Containers, cs)
		}
		st.PodSandboxStats = append(st.PodSandboxStats, ps)
	}
	return st
}

// TestListCacheAgreesOrListsAgain scrapes a node through one provider that
// keeps its identity lists and one that lists at every scrape (its cache
// dropped before each), in lockstep on one clock. At every step both answer
// the same; the keeping one lists again exactly when the runtime's state
// changed in a way the stats answer shows, or the lists grew too old.
func TestListCacheAgreesOrListsAgain(t *testing.T) {
	n := &node{
		sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0), sandbox("sb-b", "b", "uid-b", ready, time.Second)},
		containers: []*runtimeapi.Container{
			container("a1", "sb-a", "app", running, time.Second),
			container("a0", "sb-a", "app", exited, 0), // an earlier attempt
			container("b1", "sb-b", "web", running, 2*time.Second),
		},
		cpu: 1000,
	}
	srv := crifake.New(t)
	srv.SetState(n.state())
	clock := fakeclock.New(t0.Add(200 * time.Second))
	keeping := newTestProvider(t, srv, Options{Now: clock.Now})
	refSrv := crifake.New(t)
	listing := newTestProvider(t, refSrv, Options{Now: clock.Now})

	lists := 0
	step := func(what string, relist bool) PodStatsResult {
		t.Helper()
		n.cpu += 1_000_000_000
		clock.Advance(10 * time.Second)
		n.at = clock.Now()
		srv.SetState(n.state())
		refSrv.SetState(n.state())
		got, err := keeping.PodStats(t.Context())
		require.NoError(t, err, what)
		listing.lists.drop()
		want, err := listing.PodStats(t.Context())
		require.NoError(t, err, what)
		assert.Equal(t, want, got, "%s: the same answer as with fresh lists", what)
		if relist {
			lists++
		}
		assert.Equal(t, lists, srv.Calls("ListPodSandbox"), "%s: ListPodSandbox calls", what)
		assert.Equal(t, lists, srv.Calls("ListContainers"), "%s: ListContainers calls", what)
		return got
	}
	names := func(res PodStatsResult) []string {
		var out []string
		for _, p := range res.Pods {
			for _, c := range p.Containers {
				out = append(out, p.PodRef.Name+"/"+c.Name)
			}
		}
		return out
	}

	step("first scrape", true)
	res := step("nothing changed", false)
	assert.Equal(t, []string{"a/app", "b/web"}, names(res))
	require.NotNil(t, res.Pods[0].Containers[0].CPU.UsageNanoCores, "a rate over the kept lists' scrapes")
	assert.Equal(t, uint64(100_000_000), *res.Pods[0].Containers[0].CPU.UsageNanoCores, "1 s of CPU in 10 s")
	step("nothing changed again", false)

	n.sandboxes = append(n.sandboxes, sandbox("sb-c", "c", "uid-c", ready, 300*time.Second))
	n.containers = append(n.containers, container("c1", "sb-c", "db", created, 301*time.Second))
	res = step("a new pod: a sandbox the lists lack", true)
	assert.Equal(t, []string{"a/app", "b/web"}, names(res), "a created container is not reported")
	step("the new pod's container still created", false)

	n.containers[3].State = running
	res = step("the container started: CPU where the lists say created", true)
	assert.Equal(t, []string{"a/app", "b/web", "c/db"}, names(res))

	n.containers[2].State = exited
	res = step("a container exited: no CPU where the lists say running", true)
	assert.Equal(t, []string{"a/app", "c/db"}, names(res))

	n.containers = append(n.containers, container("b2", "sb-b", "web", running, 400*time.Second))
	res = step("it restarted: a container the lists lack", true)
	assert.Equal(t, []string{"a/app", "b/web", "c/db"}, names(res))

	n.sandboxes[2].State = notReady
	n.containers[3].State = exited
	res = step("a pod stopped: its sandbox is not answered", true)
	assert.Equal(t, []string{"a/app", "b/web"}, names(res))

	step("steady again", false)
	clock.Advance(ListsMaxAge)
	step("the lists are older than ListsMaxAge", true)
	step("steady after that", false)
	assert.Equal(t, 12, srv.Calls("ListPodSandboxStats"), "one stats call a scrape")
}

// TestListCacheMissingRunningContainer: an answer without a container the
// lists say is running (the runtime could not read it) is not the lists'
// state: the scrape lists again.
func TestListCacheMissingRunningContainer(t *testing.T) {
	n := &node{
		sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		containers: []*runtimeapi.Container{container("a1", "sb-a", "app", running, time.Second), container("a2", "sb-a", "log", running, time.Second)},
		cpu:        1000,
	}
	srv := crifake.New(t)
	srv.SetState(n.state())
	p := newTestProvider(t, srv, Options{})
	_, err := p.PodStats(t.Context())
	require.NoError(t, err)
	_, err = p.PodStats(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, srv.Calls("ListContainers"), "kept while the answer agrees")

	st := n.state()
	st.PodSandboxStats[0].Linux.Containers = st.PodSandboxStats[0].Linux.Containers[:1]
	srv.SetState(st)
	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Calls("ListContainers"), "listed again")
	require.Len(t, res.Pods, 1)
	assert.Len(t, res.Pods[0].Containers, 1, "the unanswered container has no stats to report")
}

// TestListCacheOffWithTheIdentityPlan: the identity plan answers from the
// lists without asking for stats, so nothing could show them stale: it lists
// at every scrape.
func TestListCacheOffWithTheIdentityPlan(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(onePodState())
	p := newTestProvider(t, srv, Options{StatsEvery: time.Minute})
	for range 3 {
		_, err := p.PodStats(t.Context())
		require.NoError(t, err)
		p.IdentityAnswers(true)
	}
	assert.Equal(t, 3, srv.Calls("ListPodSandbox"))
}
