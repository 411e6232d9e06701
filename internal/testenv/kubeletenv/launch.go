package kubeletenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// kernelTunables are the sysctls the kubelet sets at start when they differ
// from what it wants (pkg/kubelet/cm setupKernelTunables: vm.overcommit_memory
// 1, vm.panic_on_oom 0, kernel.panic 10, kernel.panic_on_oops 1, the root key
// quotas). Setting kernel.panic_on_oops on a shared machine is not the test's
// business: in the kubelet's mount namespace each is a file of the instance,
// holding the host's value, which the kubelet then overwrites.
var kernelTunables = []string{
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
}

// privateHostDirs are host paths the kubelet uses whatever its settings: it
// writes the device-plugin socket under /var/lib/kubelet/device-plugins (its
// manager removes every other socket there) and the log symlinks of
// /var/log/containers, and its cAdvisor asks the containerd of
// /run/containerd/containerd.sock for the containers' cgroups and labels
// (without it, the kubelet would take no container or pod value from
// cAdvisor, as it does on a real node). In the kubelet's mount namespace each
// is a directory of the instance; the last holds a symlink to the instance's
// containerd socket.
var privateHostDirs = []string{"/var/lib/kubelet", "/var/log/containers", runContainerd}

const runContainerd = "/run/containerd"

// createdMarker records in BaseDir that an instance created a host directory
// (an empty mount point); the last instance removes it.
func createdMarker(dir string) string {
	return filepath.Join(BaseDir, ".created"+strings.ReplaceAll(dir, "/", "_"))
}

func sysctlFile(p paths, name string) string {
	return filepath.Join(p.sysctls(), strings.ReplaceAll(name, "/", "_"))
}

func privateDir(p paths, hostDir string) string {
	return filepath.Join(p.privateDirs(), strings.ReplaceAll(strings.TrimPrefix(hostDir, "/"), "/", "_"))
}

// prepareNamespace fills the files and directories the kubelet's mount
// namespace binds over the host's, creating the host's mount points where
// they are missing. socket is the instance's containerd socket.
func prepareNamespace(p paths, socket string) error {
	for _, name := range kernelTunables {
		v, err := os.ReadFile(filepath.Join("/proc/sys", name))
		if err != nil {
			return fmt.Errorf("read sysctl %s: %w", name, err)
		}
		if err := os.WriteFile(sysctlFile(p, name), v, 0o600); err != nil {
			return fmt.Errorf("write sysctl copy: %w", err)
		}
	}
	for _, d := range privateHostDirs {
		if err := os.MkdirAll(privateDir(p, d), 0o755); err != nil {
			return fmt.Errorf("create private %s: %w", d, err)
		}
		if d == runContainerd {
			if err := os.Symlink(socket, filepath.Join(privateDir(p, d), "containerd.sock")); err != nil {
				return fmt.Errorf("link the containerd socket: %w", err)
			}
		}
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(createdMarker(d), nil, 0o600); err != nil {
				return fmt.Errorf("write marker: %w", err)
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", d, err)
			}
		}
	}
	return nil
}

// namespaceScript runs in the kubelet's new mount namespace (mounts from the
// host still propagate into it; none of its own propagate out) and then
// becomes the kubelet.
func namespaceScript(p paths) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, name := range kernelTunables {
		fmt.Fprintf(&b, "mount --bind %s %s\n", shellQuote(sysctlFile(p, name)), shellQuote(filepath.Join("/proc/sys", name)))
	}
	for _, d := range privateHostDirs {
		fmt.Fprintf(&b, "mount --bind %s %s\n", shellQuote(privateDir(p, d)), shellQuote(d))
	}
	b.WriteString("exec \"$@\"\n")
	return b.String()
}

// namespaceCommand runs argv in a new mount namespace prepared by
// namespaceScript.
func namespaceCommand(p paths, argv ...string) *exec.Cmd {
	args := append([]string{"--mount", "--propagation", "slave", "--", "/bin/sh", "-c", namespaceScript(p), "kubelet"}, argv...)
	return exec.Command("/usr/bin/unshare", args...)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// launch starts the kubelet in its own session and mount namespace, logging
// to the instance's kubelet.log, and records its PID. runtimeCgroup, when
// set, is its --runtime-cgroups (a flag only: not in KubeletConfiguration).
func launch(p paths, bin, nodeName, runtimeCgroup string) (int, error) {
	logFile, err := os.OpenFile(p.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open kubelet log: %w", err)
	}
	defer logFile.Close()
	args := []string{
		"--config", p.config(),
		"--root-dir", p.root(),
		"--cert-dir", p.certs(),
		"--hostname-override", nodeName,
	}
	if runtimeCgroup != "" {
		args = append(args, "--runtime-cgroups", runtimeCgroup)
	}
	cmd := namespaceCommand(p, append([]string{bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start kubelet: %w", err)
	}
	pid := cmd.Process.Pid
	// Reap it when it exits; the instance stops it through its PID file.
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(p.pidFile(), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return 0, fmt.Errorf("write kubelet pid: %w", err)
	}
	return pid, nil
}

// isOurKubelet tells whether pid is this instance's kubelet (or the shell
// about to become it): its arguments name the instance's root directory.
func isOurKubelet(pid int, p paths) bool {
	for _, a := range processArgs(pid) {
		if a == p.root() {
			return true
		}
	}
	return false
}

// logTail is the end of the kubelet's log, for errors.
func logTail(p paths, lines int) string {
	data, err := os.ReadFile(p.logFile())
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
