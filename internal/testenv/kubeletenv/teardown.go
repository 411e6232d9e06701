package kubeletenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

var processArgs = containerdenv.ProcessArgs

// CleanupStale removes every instance under BaseDir whose owner process is
// gone, with its kubelet and containerd.
func CleanupStale(ctx context.Context, logf func(string, ...any)) error {
	entries, err := os.ReadDir(BaseDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list kubelet instances: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(BaseDir, e.Name())
		if pid, ok := containerdenv.ReadPID(paths{dir}.ownerFile()); ok && containerdenv.ProcessAlive(pid) {
			continue
		}
		logf("kubeletenv: removing stale instance %s", dir)
		if err := Cleanup(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes everything the instance in dir created, in order: the
// kubelet (so that it restarts nothing), the containerd instance with the
// pods (through CRI, then forcefully), the cgroup root with the QoS and pod
// cgroups, mounts under dir and dir itself. It is idempotent and works whether
// the instance is running, crashed, or already gone. It refuses an instance
// whose owner is another live process.
func Cleanup(ctx context.Context, dir string) error {
	if err := containerdenv.CheckRoot(); err != nil {
		return err
	}
	p := paths{dir}
	if pid, ok := containerdenv.ReadPID(p.ownerFile()); ok && pid != os.Getpid() && containerdenv.ProcessAlive(pid) {
		return fmt.Errorf("kubelet instance %s is in use by process %d", dir, pid)
	}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	note(stopKubelet(p))
	if data, err := os.ReadFile(p.containerdFile()); err == nil {
		note(containerdenv.Cleanup(ctx, strings.TrimSpace(string(data))))
	} else if !errors.Is(err, os.ErrNotExist) {
		note(fmt.Errorf("read containerd dir: %w", err))
	}
	note(removeCgroupRoot(ctx, p))
	note(containerdenv.UnmountUnder(dir))
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		}
	}
	note(releaseHostDirs(dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up %s: %w", dir, err)
	}
	return nil
}

func stopKubelet(p paths) error {
	pid, ok := containerdenv.ReadPID(p.pidFile())
	if !ok || !isOurKubelet(pid, p) {
		return nil
	}
	if err := containerdenv.Terminate(pid, func() bool { return isOurKubelet(pid, p) }); err != nil {
		return fmt.Errorf("stop kubelet %d: %w", pid, err)
	}
	return nil
}

// releaseHostDirs removes the mount points an instance created on the host
// for the kubelet's private directories, when they are empty and no instance
// but dir's is alive: a directory another kubelet binds over must stay
// (removing it would detach that kubelet's private mount).
func releaseHostDirs(dir string) error {
	if otherInstanceAlive(dir) {
		return nil
	}
	var errs []error
	for _, d := range privateHostDirs {
		m := createdMarker(d)
		if _, err := os.Stat(m); err != nil {
			continue
		}
		// Not empty: someone else put something there meanwhile, and it is
		// theirs now.
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ENOTEMPTY) {
			errs = append(errs, fmt.Errorf("remove %s, created for the kubelet: %w", d, err))
		}
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove marker: %w", err))
		}
	}
	return errors.Join(errs...)
}

// otherInstanceAlive tells whether an instance other than dir has a live owner.
func otherInstanceAlive(dir string) bool {
	entries, err := os.ReadDir(BaseDir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		other := filepath.Join(BaseDir, e.Name())
		if !e.IsDir() || other == filepath.Clean(dir) {
			continue
		}
		if pid, ok := containerdenv.ReadPID(paths{other}.ownerFile()); ok && containerdenv.ProcessAlive(pid) {
			return true
		}
	}
	return false
}
