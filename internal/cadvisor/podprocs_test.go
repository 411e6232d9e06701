package cadvisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/keptfile"
)

// procsTree lays out a cgroup-shaped tree of plain directories under a
// temporary mount: each key a cgroup, each value the pids of its
// cgroup.procs (nil: no cgroup.procs file at all), plus a few controller
// files in each, as a v1 cpu hierarchy has.
func procsTree(t testing.TB, cgroups map[string][]int) string {
	t.Helper()
	mount := t.TempDir()
	for cg, pids := range cgroups {
		dir := filepath.Join(mount, cg)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, f := range []string{"cpu.shares", "cpuacct.usage", "notify_on_release"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("0\n"), 0o644))
		}
		if pids == nil {
			continue
		}
		var b strings.Builder
		for _, p := range pids {
			fmt.Fprintf(&b, "%d\n", p)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(b.String()), 0o644))
	}
	return mount
}

func TestPodProcs(t *testing.T) {
	sandbox := strings.Repeat("a", 64)
	app := strings.Repeat("b", 64)
	nested := strings.Repeat("c", 64)
	pod := "/kubepods/besteffort/pod1234abcd-0000-0000-0000-000000000000"
	mount := procsTree(t, map[string][]int{
		pod:                                {},
		pod + "/" + sandbox:                {101},
		pod + "/" + app:                    {201, 202},
		pod + "/" + nested:                 {},
		pod + "/" + nested + "/inner":      {301, 302, 303},
		pod + "/" + nested + "/inner/deep": {304},
		pod + "/not-a-container":           {401},
		pod + "/" + app + "/no-procs-file": nil,
	})

	total, byContainer, pid := podProcs(os.ReadFile, mount, pod)
	assert.Equal(t, uint64(1+2+4+1), total, "every process under the pod cgroup, nested ones too")
	assert.Equal(t, map[string]containerProcs{
		sandbox: {cgroup: pod + "/" + sandbox, count: 1},
		app:     {cgroup: pod + "/" + app, count: 2},
		nested:  {cgroup: pod + "/" + nested, count: 4},
	}, byContainer, "per container, its nested cgroups included; a child that is no container only in the total")
	assert.Equal(t, 101, pid, "the first process found, in directory order")
}

func TestPodProcsEmptyAndMissing(t *testing.T) {
	pod := "/kubepods/pod1234abcd-0000-0000-0000-000000000000"
	mount := procsTree(t, map[string][]int{pod: {}, pod + "/" + strings.Repeat("d", 64): {}})
	total, byContainer, pid := podProcs(os.ReadFile, mount, pod)
	assert.Zero(t, total)
	assert.Zero(t, pid)
	assert.Equal(t, map[string]containerProcs{strings.Repeat("d", 64): {cgroup: pod + "/" + strings.Repeat("d", 64)}}, byContainer)

	total, byContainer, pid = podProcs(os.ReadFile, mount, "/kubepods/gone")
	assert.Zero(t, total)
	assert.Zero(t, pid)
	assert.Empty(t, byContainer)
	assert.NotNil(t, byContainer, "an empty map, not nil, as for a pod without containers")
}

// BenchmarkPodProcs counts the processes of one pod of 3 containers and a
// sandbox, each cgroup holding a v1 cpu hierarchy's handful of files, opening
// each cgroup.procs anew and through kept files.
func BenchmarkPodProcs(b *testing.B) {
	pod := "/kubepods/besteffort/pod1234abcd-0000-0000-0000-000000000000"
	cgs := map[string][]int{pod: {}}
	for i := range 4 {
		cgs[fmt.Sprintf("%s/%064x", pod, i+1)] = []int{100 + i}
	}
	mount := procsTree(b, cgs)
	for _, r := range []struct {
		name string
		read readFileFunc
	}{
		{"read=open", os.ReadFile},
		{"read=kept", keptfile.New(maxKeptFiles).ReadFile},
	} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if total, _, _ := podProcs(r.read, mount, pod); total != 4 {
					b.Fatalf("counted %d processes, want 4", total)
				}
			}
		})
	}
}
