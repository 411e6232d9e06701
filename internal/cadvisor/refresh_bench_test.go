package cadvisor

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkNew measures the provider's startup: finding the cgroup mounts and
// reading meminfo, then the first housekeeping.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Refresh(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefresh measures one housekeeping with the root cgroup and n pod
// cgroups (each with one container cgroup) made under a test prefix.
func BenchmarkRefresh(b *testing.B) {
	for _, n := range []int{10, 40, 100} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			p, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			mounts := map[string]string{}
			for ctrl, m := range p.subsystems {
				if ctrl != "cpuset" {
					mounts[ctrl] = m
				}
			}
			root := fmt.Sprintf("/statssummary-bench-%d-%d", os.Getpid(), n)
			names := []string{root}
			for i := range n {
				pod := fmt.Sprintf("%s/pod%08x-0000-0000-0000-000000000000", root, i)
				names = append(names, pod, fmt.Sprintf("%s/%064x", pod, i))
			}
			makeCgroups(b, mounts, names...)
			p.opts.PodsCgroup = root
			if err := p.Refresh(); err != nil {
				b.Fatal(err)
			}
			if got := len(p.Snapshot().Pods); got != n {
				b.Fatalf("tracked %d pods, want %d", got, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := p.Refresh(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
