package parity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The comparison itself, on small hand-written Summaries: these run anywhere.

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"node.cpu.time", "node.cpu.time", true},
		{"node.cpu.time", "node.memory.time", false},
		{"**.time", "pods[default/busy].containers[spin].cpu.time", true},
		{"**.time", "time", false}, // ** is at least one segment
		{"pods[*].containers[*].cpu.usageNanoCores", "pods[default/busy].containers[spin].cpu.usageNanoCores", true},
		{"pods[default/busy].**", "pods[default/busy].cpu.usageNanoCores", true},
		{"pods[default/busy].**", "pods[default/idle].cpu.usageNanoCores", false},
		{"**.*Bytes", "node.fs.usedBytes", true},
		{"**.*Bytes", "node.fs.inodes", false},
		{"*.cpu", "node.cpu", true},
		{"*.cpu", "node.cpu.time", false},
		{"node.network.interfaces[*]", "node.network.interfaces[eth0.1]", true}, // a dot inside a key
	} {
		assert.Equal(t, tc.want, matchPath(tc.pattern, tc.path), "%s ~ %s", tc.pattern, tc.path)
	}
}

func TestParent(t *testing.T) {
	assert.Equal(t, "pods[default/a].containers", parent("pods[default/a].containers[c]"))
	assert.Equal(t, "pods[default/a].containers[c]", parent("pods[default/a].containers[c].cpu"))
	assert.Equal(t, "pods", parent("pods[default/a]"))
	assert.Equal(t, "node", parent("node.cpu"))
	assert.Equal(t, "", parent("node"))
	assert.Equal(t, "node.network.interfaces", parent("node.network.interfaces[eth0.1]"))
}

func TestParseTreeKeysElements(t *testing.T) {
	tr, err := parseTree([]byte(`{"node":{"nodeName":"n1","systemContainers":[{"name":"pods","cpu":{"usageNanoCores":5}}]},
		"pods":[{"podRef":{"name":"busy-n1","namespace":"default","uid":"u"},"containers":[{"name":"c","rootfs":{"usedBytes":18446744073709551615}},{"name":"c"}],"volume":[{"usedBytes":1}]}]}`), "n1")
	require.NoError(t, err)
	assert.Equal(t, "5", tr["node.systemContainers[pods].cpu.usageNanoCores"].String())
	assert.Equal(t, `"busy-n1"`, tr["pods[default/busy].podRef.name"].String(), "the node suffix goes from the key only")
	assert.Equal(t, "18446744073709551615", tr["pods[default/busy].containers[c].rootfs.usedBytes"].String(), "numbers keep every digit")
	assert.Contains(t, tr, "pods[default/busy].containers[c#1]", "a second element of the same name is an element of its own")
	assert.Contains(t, tr, "pods[default/busy].volume[0].usedBytes", "an element without a name is keyed by index")
}

func mustTree(t *testing.T, s string) tree {
	t.Helper()
	tr, err := parseTree([]byte(s), "n1")
	require.NoError(t, err)
	return tr
}

func byPath(fs []finding) map[string]finding {
	out := map[string]finding{}
	for _, f := range fs {
		out[f.path] = f
	}
	return out
}

func TestCompareRules(t *testing.T) {
	rs := []Rule{
		{Field: "node.cpu.usageCoreNanoSeconds", Kind: Counter, Abs: 10},
		{Field: "node.memory.workingSetBytes", Kind: Gauge, Rel: 0.1},
		{Field: "**.time", Kind: Time, Abs: 5},
		{Field: "node.swap", Kind: KubeletOnly},
		{Field: "node.fs.extra", Kind: OursOnly},
		{Field: "node.rlimit", Kind: OursOnly}, // out of date: both report it
		{Field: "node.cpu.psi.some.total", Kind: Counter, Scale: 1000},
	}
	before := mustTree(t, `{"node":{"cpu":{"time":"2026-01-01T00:00:00Z","usageCoreNanoSeconds":1000,"psi":{"some":{"total":5}}},"memory":{"workingSetBytes":100},
		"swap":{"swapUsageBytes":0},"rlimit":{"maxpid":1},"startTime":"2026-01-01T00:00:00Z","fs":{"usedBytes":7}}}`)
	after := mustTree(t, `{"node":{"cpu":{"time":"2026-01-01T00:00:20Z","usageCoreNanoSeconds":2000,"psi":{"some":{"total":7}}},"memory":{"workingSetBytes":120},
		"swap":{"swapUsageBytes":0},"rlimit":{"maxpid":1},"startTime":"2026-01-01T00:00:00Z","fs":{"usedBytes":7},"new":1}}`)

	t.Run("within", func(t *testing.T) {
		ours := mustTree(t, `{"node":{"cpu":{"time":"2026-01-01T00:00:10Z","usageCoreNanoSeconds":2005,"psi":{"some":{"total":6000}}},"memory":{"workingSetBytes":131},
			"rlimit":{"maxpid":1},"startTime":"2026-01-01T00:00:00Z","fs":{"usedBytes":7,"extra":{"a":1}}}}`)
		got := byPath(mustCompare(t, readings{before, ours, after}, rs))
		for _, p := range []string{"node.cpu.usageCoreNanoSeconds", "node.memory.workingSetBytes", "node.cpu.time", "node.swap", "node.fs.extra", "node.startTime", "node.fs.usedBytes", "node.cpu.psi.some.total"} {
			assert.True(t, got[p].ok, "%s: %+v", p, got[p])
		}
		assert.NotContains(t, got, "node.swap.swapUsageBytes", "a missing block is one finding")
		assert.NotContains(t, got, "node.fs.extra.a", "a block only we report is one finding")
		assert.False(t, got["node.rlimit"].ok, "an ours-only exception both sides report is out of date")
		assert.False(t, got["node.new"].ok, "a field only the kubelet reports, which no rule names, fails")
	})
	t.Run("outside", func(t *testing.T) {
		ours := mustTree(t, `{"node":{"cpu":{"time":"2026-01-01T00:00:26Z","usageCoreNanoSeconds":980,"psi":{"some":{"total":7}}},"memory":{"workingSetBytes":133},
			"swap":{"swapUsageBytes":0},"rlimit":{"maxpid":1},"startTime":"2026-01-01T00:00:01Z","fs":{"usedBytes":8}}}`)
		got := byPath(mustCompare(t, readings{before, ours, after}, rs))
		for _, p := range []string{"node.cpu.usageCoreNanoSeconds", "node.memory.workingSetBytes", "node.cpu.time", "node.swap", "node.startTime", "node.fs.usedBytes", "node.cpu.psi.some.total"} {
			assert.False(t, got[p].ok, "%s: %+v", p, got[p])
		}
	})
}

func mustCompare(t *testing.T, r readings, rs []Rule) []finding {
	t.Helper()
	fs, _ := compare(r, rs)
	require.NotEmpty(t, fs)
	return fs
}
