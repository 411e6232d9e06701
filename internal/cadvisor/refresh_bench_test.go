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
// cgroups (each with one container cgroup) made under a test prefix (pods=0:
// the node's share, what mode cri reads from the cgroups); with
// containers=true the container cgroups are read too (the identity plan).
func BenchmarkRefresh(b *testing.B) {
	for _, bc := range []struct {
		n     int
		track bool
	}{{0, false}, {10, false}, {40, false}, {100, false}, {100, true}} {
		n := bc.n
		b.Run(fmt.Sprintf("pods=%d/containers=%v", n, bc.track), func(b *testing.B) {
			p, err := New(Options{TrackContainers: bc.track})
			if err != nil {
				b.Fatal(err)
			}
			mounts := map[string]string{}
			for ctrl, m := range p.subsystems {
				if ctrl != "cpuset" {
					mounts[ctrl] = m
				}
			}
			root := fmt.Sprintf("/statssummary-bench-%d-%d-%v", os.Getpid(), n, bc.track)
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
