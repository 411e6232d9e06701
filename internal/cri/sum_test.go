package cri

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestSumContainersSaturates checks that pod totals summed from containers
// stop at the largest uint64 instead of wrapping around below a container's
// value (found by FuzzPodStats: two working sets of 2^64-1 summed to 2^64-2).
func TestSumContainersSaturates(t *testing.T) {
	const maxU = uint64(math.MaxUint64)
	tests := []struct {
		name string
		a, b uint64
		want uint64
	}{
		{"small values add", 3, 4, 7},
		{"exactly the largest", maxU - 1, 1, maxU},
		{"largest plus one stays largest", maxU, 1, maxU},
		{"two largest stay largest", maxU, maxU, maxU},
		{"two halves overflow", 1 << 63, 1 << 63, maxU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctr := func(v uint64) statsapi.ContainerStats {
				return statsapi.ContainerStats{
					CPU:    &statsapi.CPUStats{UsageCoreNanoSeconds: testkit.P64(v), UsageNanoCores: testkit.P64(v)},
					Memory: &statsapi.MemoryStats{WorkingSetBytes: testkit.P64(v), UsageBytes: testkit.P64(v), RSSBytes: testkit.P64(v), PageFaults: testkit.P64(v), MajorPageFaults: testkit.P64(v)},
					Swap:   &statsapi.SwapStats{SwapUsageBytes: testkit.P64(v)},
				}
			}
			got := sumContainers([]statsapi.ContainerStats{ctr(tt.a), ctr(tt.b)})
			for name, v := range map[string]*uint64{
				"cpu time": got.cpu.UsageCoreNanoSeconds, "cpu rate": got.cpu.UsageNanoCores,
				"working set": got.mem.WorkingSetBytes, "usage": got.mem.UsageBytes, "rss": got.mem.RSSBytes,
				"page faults": got.mem.PageFaults, "major page faults": got.mem.MajorPageFaults, "swap": got.swap.SwapUsageBytes,
			} {
				if assert.NotNil(t, v, name) {
					assert.Equal(t, tt.want, *v, name)
				}
			}
		})
	}
}
