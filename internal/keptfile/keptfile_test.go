package keptfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/cgroupenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestKeptFilesFollowARealCgroup reads a real cgroup's cgroup.procs through
// one kept file while a process enters it, then removes the cgroup and makes
// it anew under the same name: the kept file shows each state as a fresh
// open does, never the old cgroup's.
func TestKeptFilesFollowARealCgroup(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-kept")
	name := env.Root + "/c"
	env.Make(name)
	file := env.File(name, "cgroup.procs")
	k := New(16)
	read := k.ProcsReader(env.V2)
	count := func() (uint64, error) {
		b, err := read(file)
		return uint64(len(strings.Fields(string(b)))), err
	}

	n, err := count()
	require.NoError(t, err)
	assert.Zero(t, n, "a new cgroup has no process")
	require.Equal(t, 1, k.open, "the file is kept open")

	cmd := env.Run(name, "exec sleep 3600")
	// Read as fast as the poll goes: on cgroup v1 the process reader opens
	// the file anew when its kept descriptor was read less than
	// ProcsListKept ago (the kernel would serve that descriptor its old list).
	testkit.Until(t, "the process reader lists the process", 10*time.Second, func() bool {
		n, err := count()
		return err == nil && n == 1
	})
	assert.Equal(t, uint64(1), env.Procs(name), "a fresh open agrees")
	fd := k.fds[file].fd
	time.Sleep(ProcsListKept + 100*time.Millisecond)
	n, err = count()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n)
	assert.Equal(t, fd, k.fds[file].fd, "read again through the kept descriptor once it is quiet")
	assert.Equal(t, 1, k.open)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	env.Remove(name)
	_, err = count()
	require.Error(t, err, "a removed cgroup's kept file")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a removed cgroup reads as a missing file, as os.ReadFile says")
	assert.Zero(t, k.open, "the dead descriptor is closed")

	env.Make(name)
	n, err = count()
	require.NoError(t, err, "the cgroup made anew is opened afresh")
	assert.Zero(t, n)
	assert.Equal(t, 1, k.open)
}

// TestKeptFilesSweepAndCap: a file not read since the last sweep is closed
// at the next; beyond the cap files are read and closed; a missing file is
// fs.ErrNotExist and kept nothing open.
func TestKeptFilesSweepAndCap(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	require.NoError(t, os.WriteFile(a, []byte("1\n"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("2\n"), 0o644))

	k := New(1)
	got, err := k.ReadFile(a)
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(got))
	got, err = k.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, "2\n", string(got), "a file beyond the cap is still read")
	assert.Equal(t, 1, k.open, "but not kept")

	require.NoError(t, os.WriteFile(a, []byte("10\n"), 0o644)) // same inode, truncated
	got, err = k.ReadFile(a)
	require.NoError(t, err)
	assert.Equal(t, "10\n", string(got), "a kept file is read from its start each time")

	_, err = k.ReadFile(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, 1, k.open)

	k.Sweep() // a was read since the start: kept
	assert.Equal(t, 1, k.open)
	k.Sweep() // not read since: closed
	assert.Zero(t, k.open)
	assert.Empty(t, k.fds)

	_, err = k.ReadFile(a)
	require.NoError(t, err)
	k.Close()
	assert.Zero(t, k.open)
}

// TestKeptFilesRereadProcFiles: the /proc files read at every scrape (the
// node's meminfo, net/route, pressure, pid 1's net/dev; the pid limits and
// loadavg) are seq files, which a kept descriptor reads anew from the start:
// /proc/uptime, one that only grows, read twice through one kept descriptor,
// grows as a fresh open shows it.
func TestKeptFilesRereadProcFiles(t *testing.T) {
	k := New(4)
	uptime := func(read ReadFileFunc) string {
		b, err := read("/proc/uptime")
		require.NoError(t, err)
		return strings.Fields(string(b))[0]
	}
	first := uptime(k.ReadFile)
	require.Equal(t, 1, k.open, "kept open")
	testkit.Until(t, "/proc/uptime to move on", 5*time.Second, func() bool { return uptime(os.ReadFile) != first })
	second := uptime(k.ReadFile)
	require.Equal(t, 1, k.open, "the same descriptor")
	assert.NotEqual(t, first, second, "the kept descriptor reads the file as it is now")
	t.Logf("uptime %s, then %s through the same descriptor", first, second)
}
