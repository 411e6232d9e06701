package cadvisor

import (
	"testing"
	"time"

	"github.com/google/cadvisor/lib/container/common"
	"github.com/google/cadvisor/lib/container/libcontainer"
	info "github.com/google/cadvisor/lib/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/cgroupenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// handlerSample reads a cgroup through cAdvisor's own libcontainer handler,
// as the provider did for every cgroup before leanStats.
func handlerSample(t *testing.T, p *Provider, name string) *info.ContainerStats {
	t.Helper()
	mgr, err := libcontainer.NewCgroupManager(name, common.MakeCgroupPaths(p.subsystems, name))
	require.NoError(t, err)
	s, err := libcontainer.NewHandler(mgr, "/", 0, metrics).GetStats()
	require.NoError(t, err)
	return s
}

// TestLeanStatsEqualCAdvisor reads real cgroups — an idle one, one with a
// sleeping process, one with a process holding anonymous memory, and a parent
// of two of them — with leanStats and with cAdvisor's handler, and requires
// every field the Summary takes from a sample to agree: CPU time between two
// handler reads around the lean one, memory and process figures equal (the
// processes are asleep by then, so nothing moves them).
func TestLeanStatsEqualCAdvisor(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-lean")
	idle, sleeper, hog := env.Root+"/idle", env.Root+"/sleeper", env.Root+"/hog"
	env.Make(idle, sleeper, hog)
	env.Sleeper(sleeper)
	// 24 MiB of anonymous memory, touched, then held by the shell (its
	// variable) while it waits on its standard input (a builtin: no child
	// is left behind when the test kills it).
	env.Run(hog, `x=$(head -c 25165824 /dev/zero | tr '\0' 'x'); read _; echo ${#x}`)

	p, err := New(Options{})
	require.NoError(t, err)
	require.True(t, p.lean, "this host mounts what the lean read needs: it is the provider's path here")
	var last uint64
	testkit.Until(t, "the hog holds its memory, still", 30*time.Second, func() bool {
		time.Sleep(200 * time.Millisecond)
		s, err := p.leanStats(hog)
		if err != nil {
			return false
		}
		still := s.Memory.Usage == last
		last = s.Memory.Usage
		return still && s.Memory.RSS > 24<<20 && s.Processes.ProcessCount == 1
	})

	for _, name := range []string{idle, sleeper, hog, env.Root} {
		t.Run(name, func(t *testing.T) {
			before := handlerSample(t, p, name)
			lean, err := p.leanStats(name)
			require.NoError(t, err)
			after := handlerSample(t, p, name)

			assert.GreaterOrEqual(t, lean.Cpu.Usage.Total, before.Cpu.Usage.Total, "cpu")
			assert.LessOrEqual(t, lean.Cpu.Usage.Total, after.Cpu.Usage.Total, "cpu")
			for _, h := range []*info.ContainerStats{before, after} {
				assert.Equal(t, h.Memory.Usage, lean.Memory.Usage, "memory usage")
				assert.Equal(t, h.Memory.WorkingSet, lean.Memory.WorkingSet, "working set")
				assert.Equal(t, h.Memory.RSS, lean.Memory.RSS, "rss")
				assert.Equal(t, h.Memory.Swap, lean.Memory.Swap, "swap")
				assert.Equal(t, h.Memory.ContainerData.Pgfault, lean.Memory.ContainerData.Pgfault, "page faults")
				assert.Equal(t, h.Memory.ContainerData.Pgmajfault, lean.Memory.ContainerData.Pgmajfault, "major page faults")
				assert.Equal(t, h.Processes.ProcessCount, lean.Processes.ProcessCount, "processes")
			}
			assert.Equal(t, env.Procs(name), lean.Processes.ProcessCount, "the cgroup's own processes")
		})
	}
}

// TestLeanStatsGoneCgroup: a cgroup that does not exist is "not found" and
// leaves no CPU baseline behind.
func TestLeanStatsGoneCgroup(t *testing.T) {
	p, err := New(Options{})
	require.NoError(t, err)
	_, err = p.read("/statssummary-lean-never-made", metrics, 0, 0)
	require.Error(t, err)
	assert.ErrorContains(t, err, "cgroup /statssummary-lean-never-made: not found")
	assert.NotContains(t, p.prev, "/statssummary-lean-never-made")
}
