package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestTeardownAfterCrash kills the daemon as a crash would — its shims and
// containers keep running, its mounts, cgroups, bridge and shim sockets stay —
// and checks that a cleanup removes all of it, and that a second one is a no-op.
func TestTeardownAfterCrash(t *testing.T) {
	shimSocketsBefore := listDir(t, "/run/containerd/s")
	name := fmt.Sprintf("itc%d", os.Getpid()%1000000)
	env, err := containerdenv.Start(t.Context(), containerdenv.Options{Name: name, Logf: t.Logf})
	require.NoError(t, err)
	var ps pods
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Only reached with something left when an assertion below failed.
		assert.NoError(t, env.Close(ctx))
	})
	ps.server, err = env.RunPod(t.Context(), containerdenv.PodSpec{Name: "netns", Namespace: "crash", Containers: []containerdenv.ContainerSpec{
		{Name: "sleeper", Command: "exec sleep 2147483647"},
	}})
	require.NoError(t, err)
	ps.busy, err = env.RunPod(t.Context(), containerdenv.PodSpec{Name: "host", Namespace: "crash", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
		{Name: "sleeper", Command: "exec sleep 2147483647"},
	}})
	require.NoError(t, err)

	data, err := os.ReadFile(filepath.Join(env.Dir, "containerd.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	testkit.Until(t, "containerd to die", 10*time.Second, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err != nil
	})
	// What a crash leaves: running containers in the pods' cgroups, the bridge.
	require.NotEmpty(t, mustGlob(t, filepath.Join(ps.busy.PodCgroupDir("cpuacct"), "*", "cgroup.procs")), "the container outlives its daemon")
	_, err = os.Stat("/sys/class/net/ss-" + name)
	require.NoError(t, err, "the bridge outlives the daemon")

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, containerdenv.Cleanup(ctx, env.Dir))
	assertNothingLeft(t, env, ps)
	assert.Subset(t, shimSocketsBefore, listDir(t, "/run/containerd/s"), "shim sockets left behind")
	for _, f := range mustGlob(t, "/var/lib/cni/results/*") {
		data, err := os.ReadFile(f)
		if err == nil {
			assert.NotContains(t, string(data), env.Dir+"/", "cni result %s left behind", f)
		}
	}
	require.NoError(t, containerdenv.Cleanup(ctx, env.Dir), "a second cleanup")
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	return m
}
