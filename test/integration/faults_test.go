package integration

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// TestContainerdKilledAndRestarted kills the real containerd, once between
// scrapes and once while a scrape runs, and restarts it each time on the same
// socket path (a new socket file; the killed daemon's stale one stays until
// then). While it is down a scrape returns promptly without the runtime's
// pods; the first scrape after each restart has the pod and its container
// again, with CPU and memory: its shim outlived the daemon.
func TestContainerdKilledAndRestarted(t *testing.T) {
	name := fmt.Sprintf("itf%d", os.Getpid()%1000000)
	env, err := containerdenv.Start(t.Context(), containerdenv.Options{Name: name, Logf: t.Logf})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		assert.NoError(t, env.Close(ctx), "teardown")
	})
	_, err = env.RunPod(t.Context(), containerdenv.PodSpec{Name: "survivor", Namespace: "faults", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
		{Name: "sleeper", Command: "exec sleep 2147483647"},
	}})
	require.NoError(t, err)
	c := startCollector(t, env)

	pod, ctr := key{pod: "survivor"}, key{pod: "survivor", container: "sleeper"}
	requireRuntimeData := func(t *testing.T, s scraped, when string) {
		t.Helper()
		require.Contains(t, s, pod, "%s: the pod (resources: %v)", when, s.keys())
		require.Contains(t, s, ctr, "%s: the container (resources: %v)", when, s.keys())
		assert.Positive(t, s.value(t, ctr, "container.memory.working_set"), when)
		s.value(t, ctr, "container.cpu.time")
	}
	requireNoRuntimeData := func(t *testing.T, s scraped, when string) {
		t.Helper()
		assert.NotContains(t, s, pod, "%s: no pod while the runtime is down", when)
		assert.NotContains(t, s, ctr, "%s: no container while the runtime is down", when)
	}
	requireRuntimeData(t, c.scrape(t), "before the fault")

	t.Run("killed between scrapes", func(t *testing.T) {
		require.NoError(t, env.Kill())
		for i := range 2 {
			requireNoRuntimeData(t, c.scrape(t), fmt.Sprintf("down, scrape %d", i+1))
		}
		require.NoError(t, env.Restart(t.Context()))
		requireRuntimeData(t, c.scrape(t), "first scrape after the restart")
	})

	t.Run("killed while a scrape runs", func(t *testing.T) {
		var wg sync.WaitGroup
		var killErr error
		wg.Go(func() { killErr = env.Kill() })
		c.scrape(t) // complete or partial, whichever won the race; it returns
		wg.Wait()
		require.NoError(t, killErr)
		requireNoRuntimeData(t, c.scrape(t), "down")
		require.NoError(t, env.Restart(t.Context()))
		requireRuntimeData(t, c.scrape(t), "first scrape after the restart")
	})
}
