package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestDemoRuntimeOwnerKilled runs the `make run` demo runtime (hack/devruntime)
// with a stand-in for the collector, checks that the command gets CRI_ENDPOINT
// and the demo pods, then kills the owner as a crash would — the daemon, shims
// and containers survive it — and checks that the next start of any instance
// removes all of what it left.
func TestDemoRuntimeOwnerKilled(t *testing.T) {
	// Where the suite runs without Go (the VM node), hack/vm/integration.sh
	// builds the binary beforehand and names it.
	bin := os.Getenv("STATSSUMMARY_DEVRUNTIME_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "devruntime")
		build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/statssummary/statssummary/hack/devruntime")
		out, err := build.CombinedOutput()
		require.NoError(t, err, "go build hack/devruntime: %s", out)
	}

	name := fmt.Sprintf("itd%d", os.Getpid()%1000000)
	endpointFile := filepath.Join(t.TempDir(), "endpoint")
	cmd := exec.Command(bin, "run", "-name", name, "--", "sh", "-c", `echo "$CRI_ENDPOINT" > `+endpointFile+`; exec sleep 600`)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		_ = cmd.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		assert.NoError(t, containerdenv.Cleanup(ctx, filepath.Join(containerdenv.BaseDir, name)))
	})

	var endpoint string
	testkit.Until(t, "the command to get CRI_ENDPOINT", 2*time.Minute, func() bool {
		data, err := os.ReadFile(endpointFile)
		endpoint = strings.TrimSpace(string(data))
		return err == nil && endpoint != ""
	})
	dir := filepath.Join(containerdenv.BaseDir, name)
	require.Equal(t, "unix://"+filepath.Join(dir, "containerd.sock"), endpoint)

	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).ListPodSandbox(t.Context(), &runtimeapi.ListPodSandboxRequest{})
	require.NoError(t, err)
	var ready []string
	for _, sb := range resp.GetItems() {
		if sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			ready = append(ready, sb.GetMetadata().GetNamespace()+"/"+sb.GetMetadata().GetName())
		}
	}
	assert.ElementsMatch(t, []string{"demo/net-server", "demo/busy", "demo/writer", "demo/net-client"}, ready)
	uids, err := os.ReadFile(filepath.Join(dir, "pod-uids"))
	require.NoError(t, err)

	// The owner and its command die; the runtime, in its own session, does not.
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	killed = true
	_ = cmd.Wait()
	_, err = os.Stat(filepath.Join(dir, "containerd.sock"))
	require.NoError(t, err, "the runtime outlives its owner")

	// Any start cleans up instances whose owner is gone.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, containerdenv.CleanupStale(ctx, t.Logf))
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "instance directory %s remains", dir)
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), dir, "mounts remain")
	_, err = os.Stat("/sys/class/net/ss-" + name)
	assert.True(t, os.IsNotExist(err), "bridge remains")
	for _, uid := range strings.Fields(string(uids)) {
		assert.Empty(t, podCgroupsLeft(t, uid), "pod cgroups remain")
		assert.Empty(t, mustGlob(t, filepath.Join(containerdenv.PodLogsDir, "*_"+uid)), "pod logs remain")
	}
	assertNoProcessRefersTo(t, filepath.Join(dir, "containerd.sock"))
}

// assertNoProcessRefersTo fails for every process whose command line names s.
func assertNoProcessRefersTo(t *testing.T, s string) {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, d := range procs {
		data, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && strings.Contains(string(data), s) {
			t.Errorf("process %s still refers to %s: %q", d.Name(), s, data)
		}
	}
}
