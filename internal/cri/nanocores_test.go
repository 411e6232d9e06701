package cri

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
)

// rateStep is one assembly: the runtime's CPU sample for container c1, the
// provider's clock, and the usageNanoCores expected for c1 and its pod.
type rateStep struct {
	ts      time.Duration // sample time after t0; 0 means the runtime left it 0
	clock   time.Duration // provider clock after t0; 0 means 200 s
	counter *uint64       // usageCoreNanoSeconds; nil means absent
	runtime *uint64       // usageNanoCores from the runtime; nil means absent
	want    *uint64
}

func oneContainerState(s rateStep) crifake.State {
	cpu := &runtimeapi.CpuUsage{}
	if s.ts != 0 {
		cpu.Timestamp = at(s.ts)
	}
	if s.counter != nil {
		cpu.UsageCoreNanoSeconds = u64(*s.counter)
	}
	if s.runtime != nil {
		cpu.UsageNanoCores = u64(*s.runtime)
	}
	return crifake.State{
		Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
		ContainerStats: []*runtimeapi.ContainerStats{{Attributes: &runtimeapi.ContainerAttributes{Id: "c1"}, Cpu: cpu}},
	}
}

// TestNanoCores drives sequences of samples of one container through the
// provider and checks the usageNanoCores of the container and of its pod
// (the sum of one container).
func TestNanoCores(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name  string
		steps []rateStep
	}{
		{name: "a positive runtime value stands in on our first sample only; then our rate wins", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), runtime: p64(5e8), want: p64(5e8)},
			{ts: 20 * s, counter: p64(3e9), runtime: p64(9e8), want: p64(2e8)},
		}},
		{name: "runtime omits it: nil on the first sample, then from our counter deltas", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), want: nil},
			{ts: 20 * s, counter: p64(6e9), want: p64(5e8)},
		}},
		{name: "runtime 0 while the counter advanced is replaced (containerd's first sample)", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), runtime: p64(0), want: nil},
			{ts: 20 * s, counter: p64(3e9), runtime: p64(0), want: p64(2e8)},
		}},
		{name: "runtime 0 with a still counter: our 0", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), runtime: p64(0), want: nil},
			{ts: 20 * s, counter: p64(1e9), runtime: p64(0), want: p64(0)},
		}},
		{name: "counter reset: nil even when the runtime gives a rate, then from the new counter", steps: []rateStep{
			{ts: 10 * s, counter: p64(5e9), want: nil},
			{ts: 20 * s, counter: p64(1e9), runtime: p64(7e8), want: nil},
			{ts: 30 * s, counter: p64(2e9), want: p64(1e8)},
		}},
		{name: "the same sample read again (a second reader) gets the same rate, not 0", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), want: nil},
			{ts: 20 * s, counter: p64(6e9), want: p64(5e8)},
			{ts: 20 * s, counter: p64(6e9), want: p64(5e8)},
		}},
		{name: "same timestamp with another counter (interval 0): nil", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), want: nil},
			{ts: 10 * s, counter: p64(2e9), want: nil},
		}},
		{name: "an older sample after a newer one is measured against the one before", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), want: nil},
			{ts: 20 * s, counter: p64(6e9), want: p64(5e8)},
			{ts: 15 * s, counter: p64(2e9), want: p64(2e8)},
		}},
		{name: "a sample older than all held (negative interval): nil", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), want: nil},
			{ts: 5 * s, counter: p64(5e8), want: nil},
		}},
		{name: "samples under a second apart do not advance the cache", steps: []rateStep{
			{ts: 10 * s, counter: p64(1e9), want: nil},
			{ts: 20 * s, counter: p64(6e9), want: p64(5e8)},
			{ts: 20*s + 500*time.Millisecond, counter: p64(6_100_000_000), want: p64(5e8)},
			{ts: 30 * s, counter: p64(16e9), want: p64(1e9)},
		}},
		{name: "zero timestamps: the receive time stands in", steps: []rateStep{
			{clock: 100 * s, counter: p64(1e9), want: nil},
			{clock: 110 * s, counter: p64(3e9), want: p64(2e8)},
		}},
		{name: "zero timestamps: a second reader 200 ms later with the same counter gets the rate, not 0", steps: []rateStep{
			{clock: 100 * s, counter: p64(1e9), want: nil},
			{clock: 110 * s, counter: p64(3e9), want: p64(2e8)},
			{clock: 110*s + 200*time.Millisecond, counter: p64(3e9), want: p64(2e8)},
		}},
		{name: "huge delta over a long interval is exact", steps: []rateStep{
			{ts: 10 * s, counter: p64(0), want: nil},
			{ts: 1010 * s, counter: p64(18_000_000_000_000_000_000), want: p64(18_000_000_000_000_000)},
		}},
		{name: "the largest delta in one second is exact, not wrapped", steps: []rateStep{
			{ts: 10 * s, counter: p64(0), want: nil},
			{ts: 11 * s, counter: p64(math.MaxUint64), want: p64(math.MaxUint64)},
		}},
		{name: "a huge runtime value on our first sample is the runtime's to give", steps: []rateStep{
			{ts: 10 * s, counter: p64(1), runtime: p64(math.MaxUint64), want: p64(math.MaxUint64)},
		}},
		{name: "no counter: the runtime's rate as given", steps: []rateStep{
			{ts: 10 * s, runtime: p64(3e8), want: p64(3e8)},
		}},
		{name: "no counter and no rate: nil", steps: []rateStep{
			{ts: 10 * s, want: nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := crifake.New(t)
			clk := fakeclock.New(t0)
			p := newTestProvider(t, srv, Options{Now: clk.Now})
			for i, st := range tt.steps {
				c := st.clock
				if c == 0 {
					c = 200 * time.Second
				}
				clk.Set(t0.Add(c))
				srv.SetState(oneContainerState(st))
				res, err := p.PodStats(t.Context())
				require.NoError(t, err, "step %d", i)
				require.Len(t, res.Pods, 1)
				require.Len(t, res.Pods[0].Containers, 1)
				cpu := res.Pods[0].Containers[0].CPU
				require.NotNil(t, cpu, "step %d", i)
				assert.Equal(t, st.want, cpu.UsageNanoCores, "step %d: container", i)
				require.NotNil(t, res.Pods[0].CPU, "step %d", i)
				assert.Equal(t, st.want, res.Pods[0].CPU.UsageNanoCores, "step %d: pod", i)
			}
		})
	}
}

// TestNanoCoresConcurrentReaders checks that readers asking at the same time
// all get the rate, none a zero or a nil, once two samples exist.
func TestNanoCoresConcurrentReaders(t *testing.T) {
	srv := crifake.New(t)
	p := newTestProvider(t, srv, Options{})
	srv.SetState(oneContainerState(rateStep{ts: 10 * time.Second, counter: p64(1e9)}))
	_, err := p.PodStats(t.Context())
	require.NoError(t, err)
	srv.SetState(oneContainerState(rateStep{ts: 20 * time.Second, counter: p64(6e9)}))

	const readers, reads = 4, 10
	got := make([][]*uint64, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for range reads {
				res, err := p.PodStats(t.Context())
				if err != nil || len(res.Pods) != 1 || len(res.Pods[0].Containers) != 1 || res.Pods[0].Containers[0].CPU == nil {
					got[r] = append(got[r], nil)
					continue
				}
				got[r] = append(got[r], res.Pods[0].Containers[0].CPU.UsageNanoCores)
			}
		})
	}
	wg.Wait()
	for r := range readers {
		require.Len(t, got[r], reads)
		for i, v := range got[r] {
			assert.Equal(t, p64(5e8), v, "reader %d read %d", r, i)
		}
	}
}

// TestNanoCoresPod checks the pod rate: on the partial path the sum of its
// containers' rates, unknown while any container's is; on the strict path
// computed from the runtime's pod counter under its own key.
func TestNanoCoresPod(t *testing.T) {
	cpu := func(id string, ts time.Duration, counter uint64) *runtimeapi.ContainerStats {
		return &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: id},
			Cpu:        &runtimeapi.CpuUsage{Timestamp: at(ts), UsageCoreNanoSeconds: u64(counter)},
		}
	}
	state := func(ts time.Duration, c1, c2, pod uint64, strict bool) crifake.State {
		st := crifake.State{
			Sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			Containers: []*runtimeapi.Container{
				container("c1", "sb-a", "one", running, time.Second), container("c2", "sb-a", "two", running, time.Second),
			},
			ContainerStats: []*runtimeapi.ContainerStats{cpu("c1", ts, c1), cpu("c2", ts, c2)},
		}
		if strict {
			st.PodSandboxStats = []*runtimeapi.PodSandboxStats{{
				Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"},
				Linux: &runtimeapi.LinuxPodSandboxStats{
					Cpu:        &runtimeapi.CpuUsage{Timestamp: at(ts), UsageCoreNanoSeconds: u64(pod)},
					Containers: []*runtimeapi.ContainerStats{cpu("c1", ts, c1), cpu("c2", ts, c2)},
				},
			}}
		}
		return st
	}
	tests := []struct {
		name    string
		states  []crifake.State
		wantPod []*uint64
	}{
		{
			name:    "partial: sum of the containers' rates",
			states:  []crifake.State{state(10*time.Second, 1e9, 1e9, 0, false), state(20*time.Second, 3e9, 6e9, 0, false)},
			wantPod: []*uint64{nil, p64(2e8 + 5e8)},
		},
		{
			name: "partial: unknown while a new container has no rate yet",
			states: []crifake.State{
				state(10*time.Second, 1e9, 1e9, 0, false),
				func() crifake.State {
					st := state(20*time.Second, 3e9, 6e9, 0, false)
					st.ContainerStats[1].Attributes.Id = "c3"
					st.Containers[1].Id = "c3"
					return st
				}(),
			},
			wantPod: []*uint64{nil, nil},
		},
		{
			name: "strict: from the runtime's pod counter, not the containers' sum",
			states: []crifake.State{
				state(10*time.Second, 1e9, 1e9, 3e9, true),
				state(20*time.Second, 3e9, 6e9, 13e9, true),
			},
			wantPod: []*uint64{nil, p64(1e9)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := crifake.New(t)
			p := newTestProvider(t, srv, Options{})
			for i, st := range tt.states {
				srv.SetState(st)
				res, err := p.PodStats(t.Context())
				require.NoError(t, err)
				require.Len(t, res.Pods, 1)
				require.NotNil(t, res.Pods[0].CPU)
				assert.Equal(t, tt.wantPod[i], res.Pods[0].CPU.UsageNanoCores, "step %d", i)
			}
		})
	}
}

// TestRateCachePurge checks that the samples of a container that is gone are
// dropped once it has not been seen for RatePurgeAfter, and not before.
func TestRateCachePurge(t *testing.T) {
	srv := crifake.New(t)
	clk := fakeclock.New(t0)
	p := newTestProvider(t, srv, Options{Now: clk.Now, RatePurgeAfter: 10 * time.Minute})
	srv.SetState(oneContainerState(rateStep{ts: 10 * time.Second, counter: p64(1e9)}))
	_, err := p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, p.rates.len())

	srv.SetState(crifake.State{Sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)}})
	clk.Set(t0.Add(9 * time.Minute))
	_, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, p.rates.len(), "kept within the purge period")

	clk.Set(t0.Add(11 * time.Minute))
	_, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, p.rates.len(), "purged after it")
}

func TestNanoCoresArithmetic(t *testing.T) {
	tests := []struct {
		name  string
		delta uint64
		dt    int64
		want  *uint64
	}{
		{name: "half a core", delta: 5e9, dt: 10e9, want: p64(5e8)},
		{name: "rounds down", delta: 1, dt: 3, want: p64(333_333_333)},
		{name: "zero interval", delta: 5, dt: 0, want: nil},
		{name: "negative interval", delta: 5, dt: -1, want: nil},
		{name: "largest that fits", delta: math.MaxUint64, dt: 1e9, want: p64(math.MaxUint64)},
		{name: "overflow", delta: math.MaxUint64, dt: 1e9 - 1, want: nil},
		{name: "overflow in one nanosecond", delta: math.MaxUint64, dt: 1, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, nanoCores(tt.delta, tt.dt))
		})
	}
}

// TestOwnCPURateWinsOverRuntimeUsageNanoCores (issue 14, defect 5): containerd
// 1.x computes usage_nano_cores against one previous sample per container that
// every CRI client shares, so between two of our scrapes 10 s apart another
// client's call can leave it a window of milliseconds: a burst, or 0. On the
// strict path, for a container and for its pod, the rate between two of our
// own samples is reported whenever we have two; the runtime's only stands in
// before that, and its 0 never. Before the fix a positive runtime value was
// kept, so the steps at 20 s and 30 s reported 1.9e9 / 2e7 and 1.2e9.
func TestOwnCPURateWinsOverRuntimeUsageNanoCores(t *testing.T) {
	const s = time.Second
	cpu := func(ts time.Duration, counter, runtime uint64) *runtimeapi.CpuUsage {
		return &runtimeapi.CpuUsage{Timestamp: at(ts), UsageCoreNanoSeconds: u64(counter), UsageNanoCores: u64(runtime)}
	}
	state := func(ctr, pod *runtimeapi.CpuUsage) crifake.State {
		stats := &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{Id: "c1"}, Cpu: ctr}
		return crifake.State{
			Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
			ContainerStats: []*runtimeapi.ContainerStats{stats},
			PodSandboxStats: []*runtimeapi.PodSandboxStats{{
				Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"},
				Linux:      &runtimeapi.LinuxPodSandboxStats{Cpu: pod, Containers: []*runtimeapi.ContainerStats{stats}},
			}},
		}
	}
	steps := []struct {
		name           string
		ctr, pod       *runtimeapi.CpuUsage
		wantCtr, wantP *uint64
	}{
		{"first sample, the runtime's 0: unknown", cpu(10*s, 1e9, 0), cpu(10*s, 2e9, 0), nil, nil},
		{"the runtime's rate over a few ms after another client: ours over 10 s", cpu(20*s, 6e9, 19e8), cpu(20*s, 12e9, 2e7), p64(5e8), p64(1e9)},
		{"the runtime's 0 right after another client: ours", cpu(30*s, 11e9, 0), cpu(30*s, 22e9, 12e8), p64(5e8), p64(1e9)},
	}
	srv := crifake.New(t)
	p := newTestProvider(t, srv, Options{StatsPath: PathStrict})
	for _, st := range steps {
		srv.SetState(state(st.ctr, st.pod))
		res, err := p.PodStats(t.Context())
		require.NoError(t, err, st.name)
		require.Len(t, res.Pods, 1, st.name)
		require.Len(t, res.Pods[0].Containers, 1, st.name)
		require.NotNil(t, res.Pods[0].CPU, st.name)
		require.NotNil(t, res.Pods[0].Containers[0].CPU, st.name)
		assert.Equal(t, st.wantCtr, res.Pods[0].Containers[0].CPU.UsageNanoCores, "%s: container", st.name)
		assert.Equal(t, st.wantP, res.Pods[0].CPU.UsageNanoCores, "%s: pod", st.name)
	}
}
