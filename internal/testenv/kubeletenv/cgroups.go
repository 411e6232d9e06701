package kubeletenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// The kubelet's cgroup root is the instance's own, because the kubelet kills
// the processes of every pod cgroup under its kubepods that it does not know
// (cleanupOrphanedPodCgroups): under the usual /kubepods it would kill the
// pods of any other test's containerd on the machine.

// The runtime's and the kubelet's system containers: with the cgroupfs
// driver, cgroups of the instance's below its root, into which containerd
// and the kubelet are moved (as a service manager would have started them),
// so that both the kubelet and our receiver report the same system
// containers whatever else runs on the machine. With the systemd driver they
// stay where they were started: cgroups there are systemd's to make.
func runtimeCgroupName(root string) string { return root + "/runtime" }
func kubeletCgroupName(root string) string { return root + "/kubelet" }

// rootCgroupDir is the root's directory below a hierarchy's mount point: the
// path itself with the cgroupfs driver, a slice with systemd's.
func rootCgroupDir(driver containerdenv.CgroupDriver, root string) string {
	if driver == containerdenv.Systemd {
		return rootSlice(root)
	}
	return root
}

// rootSlice is the systemd slice of a root ("/ss_x" is "/ss_x.slice").
func rootSlice(root string) string { return root + ".slice" }

// createCgroupRoot makes the root exist in every hierarchy (the kubelet
// refuses a cgroupRoot that does not), recording it first for teardown.
func createCgroupRoot(ctx context.Context, p paths, driver containerdenv.CgroupDriver, root string) error {
	if err := os.WriteFile(p.cgroupFile(), []byte(string(driver)+" "+root+"\n"), 0o600); err != nil {
		return fmt.Errorf("write cgroup root: %w", err)
	}
	if err := enableRootControllers(); err != nil {
		return err
	}
	if driver == containerdenv.Systemd {
		// systemd creates the slice; the kubelet then asks it for the
		// slices below.
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		slice := strings.TrimPrefix(rootSlice(root), "/")
		if out, err := exec.CommandContext(sctx, "systemctl", "start", slice).CombinedOutput(); err != nil {
			return fmt.Errorf("systemctl start %s: %w: %s", slice, err, bytes.TrimSpace(out))
		}
		return nil
	}
	return makeCgroup(root)
}

// kubeletControllers are the cgroup v2 controllers the kubelet wants in its
// cgroup root (pkg/kubelet/cm getSupportedUnifiedControllers), where the
// kernel has them.
var kubeletControllers = []string{"cpu", "cpuset", "memory", "hugetlb", "pids"}

// enableRootControllers makes the kubelet's controllers available to the
// top-level cgroups on cgroup v2 (its cgroup root is one; the kubelet
// refuses a root that lacks any), as runc does for the cgroups it creates.
func enableRootControllers() error {
	if !containerdenv.CgroupV2() {
		return nil
	}
	data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return fmt.Errorf("read the root's controllers: %w", err)
	}
	have := strings.Fields(string(data))
	for _, c := range kubeletControllers {
		if !slices.Contains(have, c) {
			continue
		}
		if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+"+c), 0o644); err != nil {
			return fmt.Errorf("enable the %s controller below the root cgroup: %w", c, err)
		}
	}
	return nil
}

// makeCgroup creates a cgroup (cgroupfs form, its parent existing) in every
// hierarchy.
func makeCgroup(name string) error {
	mounts, err := containerdenv.CgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		// A new v1 cpuset cgroup has no CPUs or memory nodes: give it its
		// parent's, as its children will inherit them.
		if _, err := os.Stat(filepath.Join(dir, "cgroup.clone_children")); err != nil {
			continue // cgroup v2: an empty cpuset means the parent's
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || len(bytes.TrimSpace(cur)) > 0 {
				continue
			}
			v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
			if err != nil {
				return fmt.Errorf("read %s: %w", filepath.Join(filepath.Dir(dir), f), err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", filepath.Join(dir, f), err)
			}
		}
	}
	return nil
}

// moveToCgroup moves a process (all its threads) into a cgroup (cgroupfs
// form) in every hierarchy.
func moveToCgroup(pid int, name string) error {
	mounts, err := containerdenv.CgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		f := filepath.Join(m, name, "cgroup.procs")
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("move process %d to %s: %w", pid, f, err)
		}
	}
	return nil
}

// removeCgroupRoot removes the instance's cgroup root with everything below
// it (QoS and pod cgroups of either driver), in every hierarchy, once the
// processes in it are gone.
func removeCgroupRoot(ctx context.Context, p paths) error {
	data, err := os.ReadFile(p.cgroupFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroup root: %w", err)
	}
	_, root, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	if !ok || !strings.HasPrefix(root, "/ss_") {
		return fmt.Errorf("cgroup root file %s: unexpected %q", p.cgroupFile(), data)
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		// Whatever the driver, a slice systemd knows is stopped through it,
		// so that it forgets the slices below too.
		slice := strings.TrimPrefix(rootSlice(root), "/")
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_ = exec.CommandContext(sctx, "systemctl", "stop", slice).Run()
		cancel()
	}
	mounts, err := containerdenv.CgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		// Both drivers' names: a root is removed whichever driver made it.
		for _, d := range []containerdenv.CgroupDriver{containerdenv.CgroupFS, containerdenv.Systemd} {
			if err := containerdenv.RemoveCgroupTree(filepath.Join(m, rootCgroupDir(d, root))); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
