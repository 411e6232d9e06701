package containerdenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// shimSocketDir is where containerd 1.6's runc v2 shims put their sockets,
// whatever the daemon's own state directory (runtime/v2/shim.SocketAddress).
const shimSocketDir = "/run/containerd/s"

// cniResultsDir is where libcni caches each attachment's result.
const cniResultsDir = "/var/lib/cni/results"

// CleanupStale removes every instance under BaseDir whose owner process is gone.
func CleanupStale(ctx context.Context, logf func(string, ...any)) error {
	entries, err := os.ReadDir(BaseDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list instances: %w", err)
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(BaseDir, e.Name())
		if pid, ok := readPID(paths{dir}.ownerFile()); ok && processAlive(pid) {
			continue
		}
		logf("containerdenv: removing stale instance %s", dir)
		if err := Cleanup(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes everything the instance in dir created. It is idempotent and
// works whether the instance is running, crashed, or already gone. It refuses an
// instance whose owner is another live process.
func Cleanup(ctx context.Context, dir string) error {
	if err := CheckRoot(); err != nil {
		return err
	}
	p := paths{dir}
	name := filepath.Base(dir)
	if pid, ok := readPID(p.ownerFile()); ok && pid != os.Getpid() && processAlive(pid) {
		return fmt.Errorf("instance %s is in use by process %d", dir, pid)
	}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	removePodsThroughCRI(ctx, p)
	note(stopDaemon(p))
	note(killShims(p))
	stopDaemonScope(ctx, name)
	note(deleteRuncLeftovers(ctx, p))
	note(unmountUnder(dir))
	note(removePodCgroups(ctx, p))
	note(deleteBridge(ctx, bridgeName(name)))
	note(removeGlob(filepath.Join(cniResultsDir, networkName(name)+"-*")))
	note(removeLoopbackResults(p))
	note(removePodLogs(p))
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up %s: %w", dir, err)
	}
	return nil
}

// Removing pods through CRI: how many at once (the daemon's work — shims, runc,
// CNI — is what takes the time: about 0.17 s a pod one at a time on 2 cores),
// how long one call may take, and how long all of it may take before the
// forceful steps take over.
const (
	criRemoveParallel = 4
	criRemoveCall     = 30 * time.Second
	criRemoveAll      = 2 * time.Minute
)

// removePodsThroughCRI stops and removes every sandbox while the daemon still
// answers, so that it tears down networks and shims itself, a few at once.
// Failures are left to the forceful steps that follow.
func removePodsThroughCRI(ctx context.Context, p paths) {
	pid, ok := readPID(p.pidFile())
	if !ok || !isOurDaemon(pid, p) {
		return
	}
	conn, err := grpc.NewClient("unix://"+p.socket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(ctx, criRemoveAll)
	defer cancel()
	lctx, lcancel := context.WithTimeout(ctx, criRemoveCall)
	resp, err := rt.ListPodSandbox(lctx, &runtimeapi.ListPodSandboxRequest{})
	lcancel()
	if err != nil {
		return
	}
	var g errgroup.Group
	g.SetLimit(criRemoveParallel)
	for _, sb := range resp.GetItems() {
		g.Go(func() error {
			cctx, ccancel := context.WithTimeout(ctx, criRemoveCall)
			defer ccancel()
			_, _ = rt.StopPodSandbox(cctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.GetId()})
			_, _ = rt.RemovePodSandbox(cctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.GetId()})
			return nil
		})
	}
	_ = g.Wait() // failures are left to the forceful steps
}

// isOurDaemon tells whether pid is the containerd of this instance (not a
// recycled PID, never another containerd).
func isOurDaemon(pid int, p paths) bool {
	args := cmdline(pid)
	return len(args) >= 3 && filepath.Base(args[0]) == "containerd" && args[len(args)-1] == p.config()
}

func stopDaemon(p paths) error {
	pid, ok := readPID(p.pidFile())
	if !ok || !isOurDaemon(pid, p) {
		return nil
	}
	if err := terminate(pid, func() bool { return isOurDaemon(pid, p) }); err != nil {
		return fmt.Errorf("stop containerd %d: %w", pid, err)
	}
	return nil
}

// terminate sends SIGTERM, then SIGKILL after 10 s, and waits until alive says
// the process is gone.
func terminate(pid int, alive func() bool) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(alive, 10*time.Second) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(alive, 10*time.Second) {
		return nil
	}
	return errors.New("still running after SIGKILL")
}

func waitGone(alive func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// killShims kills the runc v2 shims started by this instance's daemon (their
// -address is its socket) and removes their sockets.
func killShims(p paths) error {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	var errs []error
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		args := cmdline(pid)
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		ns, id, addr := flagValue(args, "-namespace"), flagValue(args, "-id"), flagValue(args, "-address")
		if addr != p.socket() {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(func() bool { return len(cmdline(pid)) > 0 }, 10*time.Second) {
			errs = append(errs, fmt.Errorf("shim %d survived SIGKILL", pid))
		}
		if ns != "" && id != "" {
			_ = os.Remove(shimSocket(addr, ns, id))
		}
	}
	return errors.Join(errs...)
}

// shimSocket is where containerd 1.6 puts a shim's socket: a hash of the
// daemon's address, the namespace and the shim's ID under /run/containerd/s.
func shimSocket(address, namespace, id string) string {
	sum := sha256.Sum256([]byte(filepath.Join(address, namespace, id)))
	return filepath.Join(shimSocketDir, fmt.Sprintf("%x", sum))
}

func deleteRuncLeftovers(ctx context.Context, p paths) error {
	if _, err := os.Stat(p.runcRoot()); err != nil {
		return nil
	}
	var errs []error
	// runc's state lives in one directory per container under its root.
	entries, err := os.ReadDir(p.runcRoot())
	if err != nil {
		return fmt.Errorf("list runc root: %w", err)
	}
	for _, ns := range entries {
		root := filepath.Join(p.runcRoot(), ns.Name())
		ctrs, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, c := range ctrs {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			out, err := exec.CommandContext(cctx, runcPath, "--root", root, "delete", "--force", c.Name()).CombinedOutput()
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("runc delete %s: %w: %s", c.Name(), err, bytes.TrimSpace(out)))
			}
		}
	}
	return errors.Join(errs...)
}

// mountPoints returns the mount points listed in /proc/self/mountinfo whose
// filesystem type passes keep.
func mountPoints(keep func(mountPoint, fsType string) bool) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		mp := unescapeMount(fields[4])
		if keep(mp, fields[sep+1]) {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder unmounts every mount below dir, deepest first, until none is left.
func unmountUnder(dir string) error {
	prefix := filepath.Clean(dir) + "/"
	for round := 0; round < 10; round++ {
		mps, err := mountPoints(func(mp, _ string) bool { return strings.HasPrefix(mp, prefix) })
		if err != nil {
			return err
		}
		if len(mps) == 0 {
			return nil
		}
		sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
		for _, mp := range mps {
			if err := syscall.Unmount(mp, 0); err != nil {
				_ = syscall.Unmount(mp, syscall.MNT_DETACH)
			}
		}
	}
	return fmt.Errorf("mounts remain under %s after 10 rounds", dir)
}

// otherInstanceAlive tells whether an instance other than dir has a live owner.
func otherInstanceAlive(dir string) bool {
	entries, err := os.ReadDir(BaseDir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		other := filepath.Join(BaseDir, e.Name())
		if other == filepath.Clean(dir) {
			continue
		}
		if pid, ok := readPID(paths{other}.ownerFile()); ok && processAlive(pid) {
			return true
		}
	}
	return false
}

// removeCgroupTree removes a cgroup and its children, children first; cgroup
// directories are removed with rmdir (their files cannot be unlinked).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	// A cgroup whose last task just died can be busy for a moment.
	var last error
	for i := 0; i < 50; i++ {
		if last = syscall.Rmdir(dir); last == nil || errors.Is(last, syscall.ENOENT) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, last)
}

// removePodLogs removes the log directories of the instance's pods, and the
// pod logs directory itself when the instance created it and it is empty.
func removePodLogs(p paths) error {
	data, err := os.ReadFile(p.podsFile())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read pod uids: %w", err)
	}
	var errs []error
	for _, uid := range strings.Fields(string(data)) {
		errs = append(errs, removeGlob(filepath.Join(PodLogsDir, "*_"+uid)))
	}
	if _, err := os.Stat(p.createdLogsDir()); err == nil {
		_ = syscall.Rmdir(PodLogsDir) // fails, as it should, while other pods log there
	}
	return errors.Join(errs...)
}

// removeLoopbackResults removes the results libcni cached for the loopback
// network containerd attaches to every pod's namespace ("cni-loopback", not
// named after the instance): those whose namespace lies under the instance's
// directory. Pods removed through CRI leave none; a crashed daemon leaves one
// per pod with its own network namespace.
func removeLoopbackResults(p paths) error {
	matches, err := filepath.Glob(filepath.Join(cniResultsDir, "cni-loopback-*"))
	if err != nil {
		return fmt.Errorf("glob cni results: %w", err)
	}
	ours := []byte(strconv.Quote(filepath.Clean(p.dir) + "/"))
	ours = ours[:len(ours)-1] // a JSON string that starts with the directory
	var errs []error
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil || !bytes.Contains(data, ours) {
			continue
		}
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove cni result: %w", err))
		}
	}
	return errors.Join(errs...)
}

func deleteBridge(ctx context.Context, name string) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); err != nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, "/usr/sbin/ip", "link", "delete", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("delete bridge %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

func removeGlob(pattern string) error {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return fmt.Errorf("glob %s: %w", pattern, err)
	}
	var errs []error
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func readPID(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// cmdline returns a process's arguments; nil when it is gone (or a zombie).
func cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}
