package summary

import (
	"fmt"
	"testing"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
)

// BenchmarkMergePods measures the field-by-field merge of pod cgroup samples
// into the runtime's pods (fill mode, partial path) at several node sizes.
func BenchmarkMergePods(b *testing.B) {
	for _, n := range []int{10, 110, 500} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			snap := cadvisor.Snapshot{Pods: map[string]*cadvisor.CgroupStats{}}
			base := make([]statsapi.PodStats, n)
			for i := range base {
				uid := fmt.Sprintf("uid-%d", i)
				r := onePod(criCPU(5000, nil), criMem(3000, 2000), criCPU(4000, nil), criMem(2500, 1500))
				base[i] = r.Pods[0]
				base[i].PodRef.UID = uid
				snap.Pods[uid] = cgSample()
			}
			pods := make([]statsapi.PodStats, n)
			b.ReportAllocs()
			for b.Loop() {
				copy(pods, base)
				mergePods(pods, nil, snap, ModeCRIFill, true, nil)
			}
		})
	}
}
