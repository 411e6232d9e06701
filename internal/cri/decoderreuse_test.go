package cri

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
)

// bumped is st with every container's CPU and working set counters raised
// and its first pod gone: an answer unlike st in every value the Summary
// takes from a container.
func bumped(st crifake.State) crifake.State {
	st.PodSandboxStats = st.PodSandboxStats[1:]
	for _, ps := range st.PodSandboxStats {
		for _, c := range ps.GetLinux().GetContainers() {
			if c.Cpu != nil && c.Cpu.UsageCoreNanoSeconds != nil {
				c.Cpu.UsageCoreNanoSeconds.Value += 7_000_000_000
			}
			if c.Memory != nil && c.Memory.WorkingSetBytes != nil {
				c.Memory.WorkingSetBytes.Value += 1 << 20
			}
		}
	}
	return st
}

// A decoder reset between answers decodes each exactly as a new one does:
// after a larger answer, a smaller one, and one it gave up on halfway; and
// it hands out its arrays again rather than new ones, keeping only what its
// last answer needed.
func TestReusedDecoderDecodesAsNew(t *testing.T) {
	rich := mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: richStats(t).PodSandboxStats})
	big := mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: crifake.Synthetic(crifake.SyntheticNode{Pods: 60, ContainersPerPod: 3}).PodSandboxStats})
	other := mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: bumped(richStats(t)).PodSandboxStats})
	// The rich answer cut short inside its last pod: the decoder gives up
	// after it has handed out most of that answer's messages.
	cut := rich[:len(rich)-3]

	var d statsDecoder
	decode := func(name string, b []byte) *runtimeapi.ListPodSandboxStatsResponse {
		t.Helper()
		d.reset()
		var got, want runtimeapi.ListPodSandboxStatsResponse
		okWant := decodeListPodSandboxStats(b, &want)
		require.Equal(t, okWant, d.listPodSandboxStats(b, &got), name)
		if okWant {
			require.True(t, proto.Equal(&want, &got), "%s: reused decoder differs:\nwant %v\ngot  %v", name, &want, &got)
		}
		return &got
	}

	first := decode("rich", rich)
	require.NotEmpty(t, d.u64.arrays)
	firstArray := &d.u64.arrays[0][:1][0]
	require.Same(t, firstArray, first.Stats[0].Linux.Cpu.UsageCoreNanoSeconds, "the first counter comes from the first array")

	decode("big", big)
	bigArrays := len(d.u64.arrays)
	decode("other", other)
	assert.Same(t, firstArray, &d.u64.arrays[0][:1][0], "the arrays are handed out again")
	assert.Equal(t, bigArrays, len(d.u64.arrays), "a reset keeps the arrays the last answer used")
	decode("cut", cut)
	assert.Less(t, len(d.u64.arrays), bigArrays, "arrays the smaller answer did not reach are let go")
	last := decode("other again", other)
	assert.Equal(t, uint64(7_000_000_000), last.Stats[0].Linux.Containers[0].Cpu.UsageCoreNanoSeconds.Value-
		richStats(t).PodSandboxStats[1].Linux.Containers[0].Cpu.UsageCoreNanoSeconds.Value, "the bumped answer's values, not a stale one's")
}

// The identity plan keeps copies of an answer's writable layers: the
// decoder's next answer, in the same memory, leaves them as they were.
func TestIdentityKeepsCopies(t *testing.T) {
	var d statsDecoder
	var a runtimeapi.ListPodSandboxStatsResponse
	require.True(t, d.listPodSandboxStats(mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: richStats(t).PodSandboxStats}), &a))
	c := newIdentityCache(time.Minute)
	c.keepSandboxes(t0, a.Stats)
	want := map[string]*runtimeapi.ContainerStats{}
	for id, kept := range c.layers {
		want[id] = proto.Clone(kept).(*runtimeapi.ContainerStats)
	}
	require.Len(t, want, 15)

	d.reset()
	var b runtimeapi.ListPodSandboxStatsResponse
	require.True(t, d.listPodSandboxStats(mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: bumped(richStats(t)).PodSandboxStats}), &b))
	require.Len(t, c.layers, len(want))
	for id, kept := range c.layers {
		assert.True(t, proto.Equal(want[id], kept), "container %s: kept %v, was %v", id, kept, want[id])
		assert.NotEmpty(t, kept.GetAttributes().GetId())
		assert.NotNil(t, kept.GetWritableLayer().GetUsedBytes(), "container %s", id)
	}
}

// A provider decodes every strict answer into its one decoder, and what a
// PodStats call returned stays as it was when the next call's answer is
// decoded into the same memory.
func TestPodStatsReusesItsDecoder(t *testing.T) {
	srv := crifake.New(t)
	st := richStats(t)
	srv.SetState(st)
	p := newTestProvider(t, srv, Options{StatsPath: PathStrict})

	first, err := p.PodStats(t.Context())
	require.NoError(t, err)
	require.Len(t, first.Pods, 5, "richStats' five pods with containers")
	snapshot, err := json.Marshal(first)
	require.NoError(t, err)
	d := p.decoder.Load()
	require.NotNil(t, d)
	require.NotEmpty(t, d.u64.arrays)
	firstArray := &d.u64.arrays[0][:1][0]

	srv.SetState(bumped(richStats(t)))
	second, err := p.PodStats(t.Context())
	require.NoError(t, err)
	require.Len(t, second.Pods, 5, "the first pod is still listed, without stats")
	assert.Same(t, d, p.decoder.Load(), "the second answer went to the same decoder")
	assert.Same(t, firstArray, &d.u64.arrays[0][:1][0], "into the same memory")

	after, err := json.Marshal(first)
	require.NoError(t, err)
	assert.JSONEq(t, string(snapshot), string(after), "the first result changed when the second answer was decoded")
	// And the second result has the second answer's values.
	byName := func(res PodStatsResult, pod string) uint64 {
		for _, ps := range res.Pods {
			if ps.PodRef.Name == pod {
				return *ps.Containers[0].CPU.UsageCoreNanoSeconds
			}
		}
		t.Fatalf("no pod %s", pod)
		return 0
	}
	name := st.PodSandboxStats[1].Attributes.Metadata.Name
	assert.Equal(t, uint64(7_000_000_000), byName(second, name)-byName(first, name))
}
