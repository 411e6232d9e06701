package kubeletenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// TestNamespaceKeepsTheKubeletsWritesPrivate runs, in the namespace the
// kubelet gets, what the kubelet does to the host: set kernel.panic_on_oops
// and the other tunables, and write under /var/lib/kubelet and
// /var/log/containers. The host sees none of it; the instance's files do.
func TestNamespaceKeepsTheKubeletsWritesPrivate(t *testing.T) {
	require.NoError(t, containerdenv.CheckRoot())
	p := paths{t.TempDir()}
	require.NoError(t, os.MkdirAll(p.sysctls(), 0o700))
	require.NoError(t, os.MkdirAll(p.privateDirs(), 0o700))
	hostBefore := map[string]string{}
	for _, name := range kernelTunables {
		hostBefore[name] = readTrim(t, filepath.Join("/proc/sys", name))
	}
	existed := map[string]bool{}
	for _, d := range privateHostDirs {
		_, err := os.Stat(d)
		existed[d] = err == nil
	}
	require.NoError(t, os.MkdirAll(BaseDir, 0o755))
	require.NoError(t, prepareNamespace(p, "/nonexistent/containerd.sock"))
	t.Cleanup(func() { assert.NoError(t, releaseHostDirs(p.dir)) })

	script := "set -e\n"
	for _, name := range kernelTunables {
		script += "echo 4242 > /proc/sys/" + name + "\n"
	}
	script += "touch /var/lib/kubelet/kubeletenv-probe /var/log/containers/kubeletenv-probe /run/containerd/kubeletenv-probe\n"
	script += "test \"$(readlink /run/containerd/containerd.sock)\" = /nonexistent/containerd.sock\n"
	out, err := namespaceCommand(p, "/bin/sh", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, name := range kernelTunables {
		assert.Equal(t, hostBefore[name], readTrim(t, filepath.Join("/proc/sys", name)), "the host's %s", name)
		assert.Equal(t, "4242", readTrim(t, sysctlFile(p, name)), "the instance's %s", name)
	}
	for _, d := range privateHostDirs {
		_, err := os.Stat(filepath.Join(d, "kubeletenv-probe"))
		assert.True(t, os.IsNotExist(err), "the probe written under %s reached the host", d)
		_, err = os.Stat(filepath.Join(privateDir(p, d), "kubeletenv-probe"))
		assert.NoError(t, err, "the probe written under %s is the instance's", d)
	}
	require.NoError(t, releaseHostDirs(p.dir))
	for _, d := range privateHostDirs {
		// While another instance lives (a parity run beside this test), the
		// last one to go removes them.
		if !existed[d] && !otherInstanceAlive(p.dir) {
			_, err := os.Stat(d)
			assert.True(t, os.IsNotExist(err), "%s, created for the namespace, is removed", d)
		}
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}
