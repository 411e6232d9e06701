package summary

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"sigs.k8s.io/randfill"
)

// fullSummary fills every field of a Summary, every optional block included.
func fullSummary(t *testing.T) *statsapi.Summary {
	t.Helper()
	var s statsapi.Summary
	randfill.NewWithSeed(5).NilChance(0).NumElements(2, 2).Fill(&s)
	return &s
}

// jsonKeys encodes v and returns the keys of the resulting JSON object.
func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestCPUAndMemoryDropsEveryOtherBlock(t *testing.T) {
	full := fullSummary(t)
	// The input really has the blocks that must go.
	require.Equal(t, []string{"cpu", "fs", "io", "memory", "network", "nodeName", "rlimit", "runtime", "startTime", "swap", "systemContainers"}, jsonKeys(t, full.Node))
	require.Equal(t, []string{"containers", "cpu", "ephemeral-storage", "io", "memory", "network", "podRef", "process_stats", "startTime", "swap", "volume"}, jsonKeys(t, full.Pods[0]))
	require.Equal(t, []string{"accelerators", "cpu", "io", "logs", "memory", "name", "rootfs", "startTime", "swap", "userDefinedMetrics"}, jsonKeys(t, full.Pods[0].Containers[0]))

	got := CPUAndMemory(full)

	wantContainer := []string{"cpu", "memory", "name", "startTime"}
	assert.Equal(t, []string{"cpu", "memory", "nodeName", "startTime", "systemContainers"}, jsonKeys(t, got.Node))
	require.Len(t, got.Node.SystemContainers, len(full.Node.SystemContainers))
	for i, c := range got.Node.SystemContainers {
		assert.Equal(t, wantContainer, jsonKeys(t, c), "system container %d", i)
		assert.Equal(t, full.Node.SystemContainers[i].Name, c.Name)
		assert.Equal(t, full.Node.SystemContainers[i].StartTime, c.StartTime)
		assert.Same(t, full.Node.SystemContainers[i].CPU, c.CPU)
		assert.Same(t, full.Node.SystemContainers[i].Memory, c.Memory)
	}
	assert.Equal(t, full.Node.NodeName, got.Node.NodeName)
	assert.Equal(t, full.Node.StartTime, got.Node.StartTime)
	assert.Same(t, full.Node.CPU, got.Node.CPU)
	assert.Same(t, full.Node.Memory, got.Node.Memory)

	require.Len(t, got.Pods, len(full.Pods))
	for i, p := range got.Pods {
		assert.Equal(t, []string{"containers", "cpu", "memory", "podRef", "startTime"}, jsonKeys(t, p), "pod %d", i)
		assert.Equal(t, full.Pods[i].PodRef, p.PodRef)
		assert.Equal(t, full.Pods[i].StartTime, p.StartTime)
		assert.Same(t, full.Pods[i].CPU, p.CPU)
		assert.Same(t, full.Pods[i].Memory, p.Memory)
		require.Len(t, p.Containers, len(full.Pods[i].Containers))
		for j, c := range p.Containers {
			assert.Equal(t, wantContainer, jsonKeys(t, c), "pod %d container %d", i, j)
			assert.Equal(t, full.Pods[i].Containers[j].Name, c.Name)
			assert.Same(t, full.Pods[i].Containers[j].CPU, c.CPU)
		}
	}
}

func TestCPUAndMemoryKeepsEmptinessAsIs(t *testing.T) {
	tests := []struct {
		name string
		in   *statsapi.Summary
		want string
	}{
		{"nil summary", nil, "null"},
		{"no pods (nil)", &statsapi.Summary{}, `{"node":{"nodeName":"","startTime":null},"pods":null}`},
		{"no pods (empty)", &statsapi.Summary{Pods: []statsapi.PodStats{}}, `{"node":{"nodeName":"","startTime":null},"pods":[]}`},
		{
			"pod without containers",
			&statsapi.Summary{Pods: []statsapi.PodStats{{PodRef: statsapi.PodReference{Name: "p", Namespace: "n", UID: "u"}}}},
			`{"node":{"nodeName":"","startTime":null},"pods":[{"podRef":{"name":"p","namespace":"n","uid":"u"},"startTime":null,"containers":null}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(CPUAndMemory(tt.in))
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
		})
	}
}
