package parity

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/kubeletenv"
)

// ownerEnv makes the test binary the owner of a kubelet instance instead of
// running tests: TestTeardownAfterOwnerCrash kills it.
const ownerEnv = "STATSSUMMARY_PARITY_OWNER"

func TestMain(m *testing.M) {
	if name := os.Getenv(ownerEnv); name != "" {
		os.Exit(runOwner(name))
	}
	os.Exit(m.Run())
}

// runOwner starts an instance with one pod, says so on stdout and waits to be
// killed.
func runOwner(name string) int {
	k, err := kubeletenv.Start(context.Background(), kubeletenv.Options{
		Name: name,
		Pods: []corev1.Pod{pod("crash", false, []corev1.Volume{emptyDir("scratch")},
			container("sleep", sleepForever, corev1.ResourceRequirements{}))},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("READY %s %s %s\n", k.Dir, k.Containerd.Dir, k.CgroupRoot)
	select {}
}

// TestTeardownAfterOwnerCrash kills the owner of a running instance as a
// crash would — the kubelet, containerd and the pod keep running, the
// cgroups and directories stay — and checks that the next cleanup removes all
// of it without touching the host's sysctls, and that a second one is a no-op.
func TestTeardownAfterOwnerCrash(t *testing.T) {
	require.NoError(t, containerdenv.CheckRoot())
	_, err := kubeletenv.Binary("")
	require.NoError(t, err)
	sysctls := readSysctls(t)

	name := fmt.Sprintf("pc%d", os.Getpid()%100000)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), ownerEnv+"="+name)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// Only reached with something left when an assertion below failed.
		assert.NoError(t, kubeletenv.Cleanup(ctx, filepath.Join(kubeletenv.BaseDir, name)))
	})
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "READY" {
				ready <- f[1:]
				return
			}
		}
		close(ready)
	}()
	var dirs []string
	select {
	case dirs = <-ready:
		require.NotNil(t, dirs, "the owner exited before its kubelet was ready")
	case <-time.After(4 * time.Minute):
		t.Fatal("the owner's kubelet was not ready within 4 min")
	}
	dir, containerdDir, root := dirs[0], dirs[1], dirs[2]
	kubeletPID := readPIDFile(t, filepath.Join(dir, "kubelet.pid"))

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// What the crash leaves: a kubelet and its runtime still running, their
	// cgroups and directories.
	require.True(t, containerdenv.ProcessAlive(kubeletPID), "the kubelet outlives its owner")
	require.NotEmpty(t, cgroupDirs(t, root), "the cgroup root outlives the owner")

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	require.NoError(t, kubeletenv.CleanupStale(ctx, t.Logf))
	assert.False(t, containerdenv.ProcessAlive(kubeletPID) && len(containerdenv.ProcessArgs(kubeletPID)) > 0, "the kubelet is stopped")
	assert.Empty(t, cgroupDirs(t, root), "the cgroup root is removed in every hierarchy")
	for _, d := range []string{dir, containerdDir} {
		_, err := os.Stat(d)
		assert.True(t, os.IsNotExist(err), "%s is removed", d)
	}
	assert.Equal(t, sysctls, readSysctls(t), "the host's sysctls are untouched")
	require.NoError(t, kubeletenv.CleanupStale(ctx, t.Logf), "a second cleanup")
	require.NoError(t, kubeletenv.Cleanup(ctx, dir), "a cleanup of a removed instance")
}

// cgroupDirs lists the cgroup root's directories (either driver's name) that
// exist in any hierarchy.
func cgroupDirs(t *testing.T, root string) []string {
	t.Helper()
	mounts, err := containerdenv.CgroupMounts()
	require.NoError(t, err)
	var out []string
	for _, m := range mounts {
		for _, d := range []string{root, root + ".slice"} {
			if _, err := os.Stat(filepath.Join(m, d)); err == nil {
				out = append(out, filepath.Join(m, d))
			}
		}
	}
	return out
}

func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	return pid
}

// readSysctls reads the tunables the kubelet sets at start.
func readSysctls(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"} {
		b, err := os.ReadFile(filepath.Join("/proc/sys", name))
		require.NoError(t, err)
		out[name] = strings.TrimSpace(string(b))
	}
	return out
}
