package convert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/receiver/receivertest"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// TestUtilizationAndCountersEdgeCases: kubeletstats' rules for a limit or
// request of 0 (nothing), no CPU usage (no CPU utilization), no node capacity
// (no node utilization); a counter the cgroup does not keep is left out.
func TestUtilizationAndCountersEdgeCases(t *testing.T) {
	scrape := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ctr := func(cpu *statsapi.CPUStats, mem *statsapi.MemoryStats) statsapi.Summary {
		return statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n"}, Pods: []statsapi.PodStats{{
			PodRef:     statsapi.PodReference{Name: "p", Namespace: "ns", UID: "u"},
			Containers: []statsapi.ContainerStats{{Name: "c", CPU: cpu, Memory: mem}},
		}}}
	}
	cpu := &statsapi.CPUStats{UsageNanoCores: testkit.P64(500_000_000)}
	mem := &statsapi.MemoryStats{UsageBytes: testkit.P64(1 << 20), WorkingSetBytes: testkit.P64(1 << 19)}
	tests := []struct {
		name     string
		summary  statsapi.Summary
		extras   summary.ContainerExtras
		capacity summary.NodeCapacity
		want     map[string]float64
	}{
		{
			name: "every request and limit", summary: ctr(cpu, mem), capacity: summary.NodeCapacity{CPU: 4, Memory: 1 << 30},
			extras: summary.ContainerExtras{Resources: summary.Resources{CPULimit: 1, CPURequest: 0.25, MemoryLimit: 4 << 20, MemoryRequest: 2 << 20}},
			want: map[string]float64{
				"k8s.container.cpu_limit_utilization": 0.5, "k8s.container.cpu_request_utilization": 2, "k8s.container.cpu.node.utilization": 0.125,
				// usage bytes, not the working set
				"k8s.container.memory_limit_utilization": 0.25, "k8s.container.memory_request_utilization": 0.5, "k8s.container.memory.node.utilization": 1.0 / 1024,
			},
		},
		{
			name: "limits and requests of 0, no capacity: nothing", summary: ctr(cpu, mem),
			want: map[string]float64{},
		},
		{
			name: "no CPU usage (a first sample): no CPU utilization", summary: ctr(&statsapi.CPUStats{UsageCoreNanoSeconds: testkit.P64(1)}, mem),
			extras: summary.ContainerExtras{Resources: summary.Resources{CPULimit: 1, MemoryLimit: 2 << 20}},
			want:   map[string]float64{"k8s.container.memory_limit_utilization": 0.5},
		},
		{
			name: "counters: only those kept", summary: ctr(nil, nil),
			extras: summary.ContainerExtras{Counters: cadvisor.CgroupCounters{Has: cadvisor.HasMemoryOOMKill | cadvisor.HasThrottling, MemoryOOMKill: 3, CPUPeriods: 10, CPUThrottledPeriods: 2, CPUThrottledTime: 5e6, MemoryOOM: 9}},
			want: map[string]float64{
				"container.memory.events{memory.event=oom_kill}": 3,
				"container.cpu.throttling_data.periods":          10, "container.cpu.throttling_data.throttled_periods": 2, "container.cpu.throttling_data.throttled_time": 5e6,
			},
		},
	}
	cfg := allEnabled()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := New(cfg, Groups{Container: true}, receivertest.NewNopSettings(metadata.Type))
			a := &summary.Assembly{Summary: &tt.summary, Time: scrape, Extras: &summary.Extras{
				Capacity: tt.capacity,
				Pods:     []summary.PodExtras{{Containers: []summary.ContainerExtras{tt.extras}}},
			}}
			md := conv.Convert(a, time.Time{})
			got := map[string]float64{}
			for k, v := range testkit.PointValues(md.ResourceMetrics().At(0)) {
				if k == "container.cpu.usage" || k == "container.cpu.time" || k == "container.memory.usage" || k == "container.memory.working_set" {
					continue
				}
				got[k] = v
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
