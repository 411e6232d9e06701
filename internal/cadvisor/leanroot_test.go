package cadvisor

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/cadvisor/lib/container/common"
	"github.com/google/cadvisor/lib/container/libcontainer"
	info "github.com/google/cadvisor/lib/model"
	"github.com/opencontainers/cgroups"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// rootHandlerSample reads the root cgroup through cAdvisor's handler as the
// provider did before leanRootStats (rootMetrics, pid 1, no pids
// controller). pid 0 leaves the network out.
func rootHandlerSample(t *testing.T, p *Provider, pid int) *info.ContainerStats {
	t.Helper()
	paths := common.MakeCgroupPaths(p.subsystems, "/")
	delete(paths, "pids")
	mgr, err := libcontainer.NewCgroupManager("/", paths)
	require.NoError(t, err)
	s, err := libcontainer.NewHandler(mgr, "/", pid, rootMetrics).GetStats()
	require.NoError(t, err)
	return s
}

// TestLeanRootEqualCAdvisor reads this host's root cgroup and pid 1's network
// with leanRootStats between two reads through cAdvisor's handler. What only
// grows — CPU time, page faults, every interface counter — lies between the
// two; the interfaces are the same, in the same order. The node's memory
// moves between any two reads: its usage, working set and RSS are compared
// on a fixed tree in TestLeanRootMemoryV1.
func TestLeanRootEqualCAdvisor(t *testing.T) {
	p, err := New(Options{})
	require.NoError(t, err)
	require.True(t, p.lean, "this host mounts what the lean read needs")

	// A first read opens the files; the one compared reads them again
	// through the kept descriptors, as every housekeeping after the first.
	_, err = p.leanRootStats()
	require.NoError(t, err)
	before := rootHandlerSample(t, p, 1)
	lean, err := p.leanRootStats()
	require.NoError(t, err)
	after := rootHandlerSample(t, p, 1)

	between := func(what string, lo, v, hi uint64) {
		t.Helper()
		assert.GreaterOrEqual(t, v, lo, "%s: lean read below the handler's before it", what)
		assert.LessOrEqual(t, v, hi, "%s: lean read above the handler's after it", what)
	}
	between("cpu", before.Cpu.Usage.Total, lean.Cpu.Usage.Total, after.Cpu.Usage.Total)
	between("page faults", before.Memory.ContainerData.Pgfault, lean.Memory.ContainerData.Pgfault, after.Memory.ContainerData.Pgfault)
	between("major page faults", before.Memory.ContainerData.Pgmajfault, lean.Memory.ContainerData.Pgmajfault, after.Memory.ContainerData.Pgmajfault)
	assert.NotZero(t, lean.Memory.Usage, "the node uses memory")
	assert.LessOrEqual(t, lean.Memory.WorkingSet, lean.Memory.Usage)
	assert.Zero(t, lean.Processes.ProcessCount, "no process count for the root (rootMetrics)")

	require.NotNil(t, lean.Network)
	require.NotEmpty(t, before.Network.Interfaces, "this host has an interface cAdvisor keeps")
	require.Len(t, lean.Network.Interfaces, len(before.Network.Interfaces))
	for i, l := range lean.Network.Interfaces {
		b, a := before.Network.Interfaces[i], after.Network.Interfaces[i]
		require.Equal(t, b.Name, l.Name)
		for _, c := range []struct {
			what    string
			b, l, a uint64
		}{
			{"rx bytes", b.RxBytes, l.RxBytes, a.RxBytes},
			{"rx packets", b.RxPackets, l.RxPackets, a.RxPackets},
			{"rx errors", b.RxErrors, l.RxErrors, a.RxErrors},
			{"rx dropped", b.RxDropped, l.RxDropped, a.RxDropped},
			{"tx bytes", b.TxBytes, l.TxBytes, a.TxBytes},
			{"tx packets", b.TxPackets, l.TxPackets, a.TxPackets},
			{"tx errors", b.TxErrors, l.TxErrors, a.TxErrors},
			{"tx dropped", b.TxDropped, l.TxDropped, a.TxDropped},
		} {
			between(l.Name+" "+c.what, c.b, c.l, c.a)
		}
	}
	t.Logf("root: cpu %d ns, memory %d (working set %d), %d interfaces", lean.Cpu.Usage.Total, lean.Memory.Usage, lean.Memory.WorkingSet, len(lean.Network.Interfaces))
}

// fakeRoot lays out a cgroup v1 root (cpu, cpuacct and memory hierarchies) in
// a temporary directory with the files cAdvisor's handler and leanRootStats
// read, and a proc root with pid 1's net/dev, and points p at them.
func fakeRoot(t *testing.T, p *Provider, memoryStat string, hierarchy string) {
	t.Helper()
	// libcontainer reads files outside cgroupfs only in its test mode.
	cgroups.TestMode = true
	t.Cleanup(func() { cgroups.TestMode = false })
	dir := t.TempDir()
	files := map[string]string{
		"cpu/cpu.stat":                     "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
		"cpuacct/cpuacct.usage":            "987654321\n",
		"cpuacct/cpuacct.usage_percpu":     "487654321 500000000\n",
		"cpuacct/cpuacct.stat":             "user 60\nsystem 30\n",
		"memory/memory.usage_in_bytes":     "3221225472\n",
		"memory/memory.max_usage_in_bytes": "4294967296\n",
		"memory/memory.failcnt":            "0\n",
		"memory/memory.limit_in_bytes":     "9223372036854771712\n",
		"memory/memory.use_hierarchy":      hierarchy + "\n",
		"memory/memory.stat":               memoryStat,
		"proc/1/net/dev": "Inter-|   Receive                                                |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compress\n" +
			"    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n" +
			"  eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n",
	}
	for name, data := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	p.subsystems = map[string]string{
		"cpu":     filepath.Join(dir, "cpu"),
		"cpuacct": filepath.Join(dir, "cpuacct"),
		"memory":  filepath.Join(dir, "memory"),
	}
	p.v2 = false
	p.lean = leanPossible(false, p.subsystems)
	p.opts.ProcRoot = filepath.Join(dir, "proc")
}

// TestLeanRootMemoryV1: on a fixed cgroup v1 root, hierarchical and not, the
// lean read's CPU and memory figures are the handler's, field by field, and
// its network is the proc root's pid 1 with the loopback left out.
func TestLeanRootMemoryV1(t *testing.T) {
	const stat = "cache 1073741824\nrss 536870912\nswap 0\npgfault 111\npgmajfault 22\n" +
		"inactive_file 268435456\ntotal_cache 2147483648\ntotal_rss 1073741824\ntotal_swap 4096\n" +
		"total_inactive_file 805306368\ntotal_pgfault 333\ntotal_pgmajfault 44\n"
	for _, hierarchy := range []string{"1", "0"} {
		t.Run("use_hierarchy="+hierarchy, func(t *testing.T) {
			p, err := New(Options{})
			require.NoError(t, err)
			fakeRoot(t, p, stat, hierarchy)
			require.True(t, p.lean)

			h := rootHandlerSample(t, p, 0)
			lean, err := p.leanRootStats()
			require.NoError(t, err)
			assert.Equal(t, h.Cpu.Usage.Total, lean.Cpu.Usage.Total, "cpu")
			assert.Equal(t, h.Memory.Usage, lean.Memory.Usage, "usage")
			assert.Equal(t, h.Memory.WorkingSet, lean.Memory.WorkingSet, "working set")
			assert.Equal(t, h.Memory.RSS, lean.Memory.RSS, "rss")
			assert.Equal(t, h.Memory.Swap, lean.Memory.Swap, "swap")
			assert.Equal(t, h.Memory.ContainerData.Pgfault, lean.Memory.ContainerData.Pgfault, "page faults")
			assert.Equal(t, h.Memory.ContainerData.Pgmajfault, lean.Memory.ContainerData.Pgmajfault, "major page faults")
			// The fixture's own numbers, so that a handler reading nothing
			// cannot pass the comparison above.
			assert.Equal(t, uint64(987654321), lean.Cpu.Usage.Total)
			assert.Equal(t, uint64(3221225472-805306368), lean.Memory.WorkingSet)

			require.NotNil(t, lean.Network)
			require.Len(t, lean.Network.Interfaces, 1)
			assert.Equal(t, info.InterfaceStats{Name: "eth0", RxBytes: 5000, RxPackets: 40, RxErrors: 1, RxDropped: 2,
				TxBytes: 7000, TxPackets: 50, TxErrors: 3, TxDropped: 4}, lean.Network.Interfaces[0])
		})
	}
}

// TestLeanRootMemoryV2: the v2 root has no memory.current; its usage is
// memory.stat's anon + file (libcontainer's rootStatsFromMeminfo), the
// working set that less inactive_file. This host is cgroup v1, where
// cAdvisor's handler reads v1 files: the expected figures are the rule's,
// from the fixture's numbers; the VM node's integration suite reads a real
// v2 root.
func TestLeanRootMemoryV2(t *testing.T) {
	dir := t.TempDir()
	const anon, file, inactive = 1 << 30, 3 << 29, 1 << 28
	files := map[string]string{
		"cpu.stat":    "usage_usec 5000000\nuser_usec 3000000\nsystem_usec 2000000\n",
		"memory.stat": "anon " + strconv.Itoa(anon) + "\nfile " + strconv.Itoa(file) + "\ninactive_file " + strconv.Itoa(inactive) + "\npgfault 9\npgmajfault 1\n",
	}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	proc := filepath.Join(dir, "proc")
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "1", "net"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "1", "net", "dev"), []byte("h1\nh2\n  ens3: 1 2 3 4 0 0 0 0 5 6 7 8 0 0 0 0\n"), 0o644))

	p, err := New(Options{})
	require.NoError(t, err)
	p.subsystems, p.v2, p.opts.ProcRoot = map[string]string{"": dir}, true, proc
	s, err := p.leanRootStats()
	require.NoError(t, err)
	assert.Equal(t, uint64(5_000_000_000), s.Cpu.Usage.Total)
	assert.Equal(t, uint64(anon+file), s.Memory.Usage)
	assert.Equal(t, uint64(anon+file-inactive), s.Memory.WorkingSet)
	assert.Equal(t, uint64(anon), s.Memory.RSS)
	assert.Equal(t, uint64(9), s.Memory.ContainerData.Pgfault)
	assert.Equal(t, uint64(1), s.Memory.ContainerData.Pgmajfault)
	require.Len(t, s.Network.Interfaces, 1)
	assert.Equal(t, "ens3", s.Network.Interfaces[0].Name)
	assert.Equal(t, uint64(5), s.Network.Interfaces[0].TxBytes)

	// A pod cgroup without memory.current is gone, not a root: an error.
	_, err = p.leanStats("/")
	require.Error(t, err, "only the root reads its usage from memory.stat")
}

// TestRootNetDev: cAdvisor's rules for the host's interfaces.
func TestRootNetDev(t *testing.T) {
	const head = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
	ifaces, err := rootNetDev([]byte(head +
		"    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" +
		"VETH12: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" +
		"docker0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" +
		"nerdctl0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" +
		"  eth0: 10 11 12 13 0 0 0 0 20 21 22 23 0 0 0 0\n" +
		"cni0: 30 31 32 33 0 0 0 0 40 41 42 43 0 0 0 0"))
	require.NoError(t, err)
	require.Len(t, ifaces, 2)
	assert.Equal(t, info.InterfaceStats{Name: "eth0", RxBytes: 10, RxPackets: 11, RxErrors: 12, RxDropped: 13,
		TxBytes: 20, TxPackets: 21, TxErrors: 22, TxDropped: 23}, ifaces[0])
	assert.Equal(t, "cni0", ifaces[1].Name, "a line without a final newline counts")

	for name, line := range map[string]string{
		"16 fields":        "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n",
		"18 fields":        "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"not a number":     "  eth0: 1 x 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"bad ignored line": "  veth0: 1 2 3\n",
	} {
		_, err := rootNetDev([]byte(head + "  eth1: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" + line))
		assert.Error(t, err, "%s: none of the file is trusted", name)
	}
}

// TestLeanRootFallsBack: where the lean read fails (here: pid 1's net/dev
// is not under the proc root), the node is read through the handler, not
// lost; the fallback is logged when it starts and when it ends, not at every
// housekeeping.
func TestLeanRootFallsBack(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	p, err := New(Options{Logger: zap.New(core)})
	require.NoError(t, err)
	procRoot := p.opts.ProcRoot
	p.opts.ProcRoot = t.TempDir()
	_, err = p.leanRootStats()
	require.Error(t, err)
	for range 2 {
		s, err := p.read("/", rootMetrics, 1, p.capacity)
		require.NoError(t, err)
		require.NotNil(t, s.CPU)
		require.NotNil(t, s.Memory)
		assert.NotZero(t, *s.CPU.UsageCoreNanoSeconds)
	}
	assert.Contains(t, p.handlers, "/", "the handler read it")
	require.Equal(t, 1, logs.FilterMessageSnippet("through cAdvisor's handler").Len(), "logged once")

	p.opts.ProcRoot = procRoot
	_, err = p.read("/", rootMetrics, 1, p.capacity)
	require.NoError(t, err)
	assert.Equal(t, 1, logs.FilterMessageSnippet("read lean again").Len())
}
