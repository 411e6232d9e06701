package containerdenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CgroupDriver is how pod and container cgroups are named, as the kubelet's
// cgroupDriver setting and containerd's SystemdCgroup option name them.
type CgroupDriver string

const (
	// CgroupFS: the pod's cgroup parent is a path (/kubepods/besteffort/pod<uid>),
	// a container's cgroup is <parent>/<container ID>.
	CgroupFS CgroupDriver = "cgroupfs"
	// Systemd: the pod's cgroup parent is a slice
	// (kubepods-besteffort-pod<uid with _ for ->.slice, under kubepods.slice/
	// kubepods-besteffort.slice), a container's cgroup is the scope
	// cri-containerd-<container ID>.scope under it; runc asks systemd over
	// D-Bus to create it.
	Systemd CgroupDriver = "systemd"
)

// DefaultCgroupDriver is $STATSSUMMARY_CGROUP_DRIVER when set, else cgroupfs.
func DefaultCgroupDriver() CgroupDriver {
	if d := os.Getenv("STATSSUMMARY_CGROUP_DRIVER"); d != "" {
		return CgroupDriver(d)
	}
	return CgroupFS
}

func (d CgroupDriver) check() error {
	switch d {
	case CgroupFS:
		return nil
	case Systemd:
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			return errors.New("the systemd cgroup driver needs systemd as init (no /run/systemd/system here)")
		}
		if _, err := exec.LookPath("systemctl"); err != nil {
			return errors.New("the systemd cgroup driver needs systemctl")
		}
		return nil
	default:
		return fmt.Errorf("cgroup driver %q: want %q or %q", d, CgroupFS, Systemd)
	}
}

// CgroupV2 tells whether /sys/fs/cgroup is the unified (v2) hierarchy, as on
// a cgroup v2 node; false on a v1 or hybrid node.
func CgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// QoS classes, which decide where the kubelet puts a pod's cgroup.
const (
	Guaranteed = "guaranteed"
	Burstable  = "burstable"
	BestEffort = "besteffort"
)

var qosClasses = []string{Guaranteed, Burstable, BestEffort}

// podCgroupParent is what the kubelet passes as a pod's cgroup parent to the
// runtime (LinuxPodSandboxConfig.CgroupParent) for each driver.
func podCgroupParent(driver CgroupDriver, qos, uid string) string {
	if driver == Systemd {
		// The kubelet's systemd driver escapes the UID's dashes.
		u := strings.ReplaceAll(uid, "-", "_")
		if qos == Guaranteed {
			return "kubepods-pod" + u + ".slice"
		}
		return "kubepods-" + qos + "-pod" + u + ".slice"
	}
	if qos == Guaranteed {
		return "/kubepods/pod" + uid
	}
	return "/kubepods/" + qos + "/pod" + uid
}

// podCgroupPath is the pod's cgroup relative to a hierarchy's root.
func podCgroupPath(driver CgroupDriver, qos, uid string) string {
	if driver == Systemd {
		leaf := podCgroupParent(driver, qos, uid)
		if qos == Guaranteed {
			return "/kubepods.slice/" + leaf
		}
		return "/kubepods.slice/kubepods-" + qos + ".slice/" + leaf
	}
	return podCgroupParent(driver, qos, uid)
}

// containerCgroupName is the leaf of a container's (or the sandbox's) cgroup.
func containerCgroupName(driver CgroupDriver, id string) string {
	if driver == Systemd {
		return "cri-containerd-" + id + ".scope"
	}
	return id
}

// cgroupDir is a cgroup path's directory for one controller: on cgroup v2 the
// controller is ignored (one hierarchy).
func cgroupDir(controller, path string) string {
	if CgroupV2() {
		return filepath.Join("/sys/fs/cgroup", path)
	}
	return filepath.Join("/sys/fs/cgroup", controller, path)
}

// qosParents are the kubelet's QoS-level cgroups, deepest first, relative to
// a hierarchy's root, for both drivers.
var qosParents = []string{
	"/kubepods/burstable", "/kubepods/besteffort", "/kubepods",
	"/kubepods.slice/kubepods-burstable.slice", "/kubepods.slice/kubepods-besteffort.slice", "/kubepods.slice",
}

// removePodCgroups removes the cgroups of the pods the instance ran, whatever
// driver and QoS class they had, in every cgroup hierarchy (v1 controllers,
// named ones and the unified one). A slice that systemd manages is stopped
// through systemd first, so that systemd forgets it too.
func removePodCgroups(ctx context.Context, p paths) error {
	data, err := os.ReadFile(p.podsFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pod uids: %w", err)
	}
	uids := strings.Fields(string(data))
	roots, err := mountPoints(func(_, fs string) bool { return fs == "cgroup" || fs == "cgroup2" })
	if err != nil {
		return err
	}
	var errs []error
	for _, uid := range uids {
		for _, qos := range qosClasses {
			stopSlice(ctx, podCgroupParent(Systemd, qos, uid))
		}
	}
	last := !otherInstanceAlive(p.dir)
	if last {
		for _, s := range []string{"kubepods-burstable.slice", "kubepods-besteffort.slice", "kubepods.slice"} {
			stopSlice(ctx, s)
		}
	}
	for _, root := range roots {
		for _, uid := range uids {
			for _, driver := range []CgroupDriver{CgroupFS, Systemd} {
				for _, qos := range qosClasses {
					if err := removeCgroupTree(filepath.Join(root, podCgroupPath(driver, qos, uid))); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		// The parents go too once no other pod uses them — left to the last
		// instance, so as not to remove one that another is about to fill. A
		// parent still holding another's pods stays (rmdir fails on it).
		if last {
			for _, parent := range qosParents {
				_ = syscall.Rmdir(filepath.Join(root, parent))
			}
		}
	}
	return errors.Join(errs...)
}

// stopSlice stops a systemd slice when systemd runs and knows it; a slice
// systemd does not know is left to removeCgroupTree.
func stopSlice(ctx context.Context, slice string) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", sliceCgroupPath(slice))); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = exec.CommandContext(ctx, "systemctl", "stop", slice).Run()
}

// sliceCgroupPath is where systemd puts a slice: every dash-separated prefix
// of its name is a parent slice (a-b-c.slice is a.slice/a-b.slice/a-b-c.slice).
func sliceCgroupPath(slice string) string {
	name := strings.TrimSuffix(slice, ".slice")
	parts := strings.Split(name, "-")
	var dirs []string
	for i := range parts {
		dirs = append(dirs, strings.Join(parts[:i+1], "-")+".slice")
	}
	return "/" + strings.Join(dirs, "/")
}

// stopDaemonScope stops the daemon's scopes (systemd driver) once the daemon
// and its shims are gone, should systemd still hold any.
func stopDaemonScope(ctx context.Context, name string) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return
	}
	scopes, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/system.slice", daemonScopePrefix(name)+"*.scope"))
	for _, s := range scopes {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_ = exec.CommandContext(sctx, "systemctl", "stop", filepath.Base(s)).Run()
		cancel()
	}
}
