package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestSummaryGolden serves the fixture's Summary through the whole chain (CRI
// on a unix socket to HTTP on loopback) and compares the bytes with the golden
// files, which were reviewed by hand against fixtureState. After a deliberate
// change of the output, rewrite them with testkit's flag and review the diff
// line by line:
//
//	go test ./internal/server -run TestSummaryGolden -update
func TestSummaryGolden(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), 0)
	env.scrape(t)

	tests := []struct {
		name   string
		query  string
		golden string
	}{
		{"full", "", "summary.json"},
		{"only cpu and memory", "?only_cpu_and_memory=true", "summary_cpu_memory.json"},
		{"explicitly full", "?only_cpu_and_memory=false", "summary.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, env.url+SummaryPath+tt.query)
			require.Equal(t, 200, r.status, "body: %s", r.body)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))

			path := filepath.Join("testdata", "golden", tt.golden)
			if *testkit.Update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, r.body, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(r.body))

			decodeSummary(t, r.body)
		})
	}
	// Max age 0 and a clock that did not move: one assembly served all.
	assert.Equal(t, 1, env.cri.Calls("ListPodSandbox"))
}

// TestSummaryGoldenDecodesToTheAssembly checks the round trip: what is served
// decodes, unknown fields disallowed, to the assembled Summary with its times
// cut to the second, as the kubelet's JSON does.
func TestSummaryGoldenDecodesToTheAssembly(t *testing.T) {
	env := newCRIEnv(t, fixtureState(), 0)
	snap := env.scrape(t)
	require.NoError(t, snap.Err)

	got := decodeSummary(t, get(t, env.url+SummaryPath).body)
	assembled := snap.Assembly.Summary
	require.Len(t, got.Pods, len(assembled.Pods))
	for i := range assembled.Pods {
		want, have := assembled.Pods[i], got.Pods[i]
		assert.Equal(t, want.PodRef, have.PodRef)
		wantStart := want.StartTime.Rfc3339Copy()
		assert.True(t, wantStart.Equal(&have.StartTime), "pod %s start time", want.PodRef.Name)
		require.Len(t, have.Containers, len(want.Containers))
		for j := range want.Containers {
			assert.Equal(t, want.Containers[j].Name, have.Containers[j].Name)
			assert.Equal(t, want.Containers[j].CPU.UsageCoreNanoSeconds, have.Containers[j].CPU.UsageCoreNanoSeconds)
			assert.Equal(t, want.Containers[j].CPU.UsageNanoCores, have.Containers[j].CPU.UsageNanoCores)
			assert.Equal(t, want.Containers[j].Memory.WorkingSetBytes, have.Containers[j].Memory.WorkingSetBytes)
			assert.Equal(t, want.Containers[j].Memory.AvailableBytes, have.Containers[j].Memory.AvailableBytes)
		}
	}
	assert.Equal(t, "node-a", got.Node.NodeName)
}

// TestSummaryGoldenCPUAndMemoryIsASubset checks that the reduced golden file
// is the full one less every block other than CPU and memory.
func TestSummaryGoldenCPUAndMemoryIsASubset(t *testing.T) {
	read := func(name string) *statsapi.Summary {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		require.NoError(t, err)
		return decodeSummary(t, b)
	}
	full, reduced := read("summary.json"), read("summary_cpu_memory.json")
	require.Len(t, reduced.Pods, len(full.Pods))
	assert.Equal(t, full.Node.NodeName, reduced.Node.NodeName)
	for i := range full.Pods {
		assert.Equal(t, full.Pods[i].PodRef, reduced.Pods[i].PodRef)
		assert.Equal(t, full.Pods[i].CPU, reduced.Pods[i].CPU)
		assert.Equal(t, full.Pods[i].Memory, reduced.Pods[i].Memory)
		assert.Nil(t, reduced.Pods[i].Network)
		assert.Nil(t, reduced.Pods[i].VolumeStats)
		assert.Nil(t, reduced.Pods[i].EphemeralStorage)
		assert.Nil(t, reduced.Pods[i].ProcessStats)
		assert.Nil(t, reduced.Pods[i].Swap)
		assert.Nil(t, reduced.Pods[i].IO)
	}
}
