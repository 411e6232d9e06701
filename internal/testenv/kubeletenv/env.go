package kubeletenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// BaseDir holds one directory per instance, named after the instance.
const BaseDir = "/var/lib/statssummary-kubelet"

// BinEnv names the environment variable holding the directory of the kubelet
// binary (what hack/runtimes/kubelet.sh prints).
const BinEnv = "STATSSUMMARY_KUBELET_BIN"

// Options configure an instance.
type Options struct {
	// Name identifies the instance: its directory is BaseDir/Name, its
	// containerd instance and its cgroup root are named after it. At most 12
	// characters of [a-z0-9-].
	Name string
	// BinDir is the directory holding the kubelet binary; empty means $BinEnv.
	// Without one Start fails, saying how to build it.
	BinDir string
	// NodeName is the kubelet's --hostname-override; empty means "kubelet-"+Name.
	NodeName string
	// Containerd configures the instance's own containerd (binaries, cgroup
	// driver); its Name and Logf are the instance's. The kubelet's cgroupDriver
	// is the one containerd runs with.
	Containerd containerdenv.Options
	// Pods are written as static pod manifests. An empty namespace is
	// "default"; the kubelet appends "-"+NodeName to each name.
	Pods []corev1.Pod
	// VolumeStatsAggPeriod is the kubelet's volumeStatsAggPeriod, how often it
	// measures volumes; 0 means 10 s (the kubelet's default is 1 min).
	VolumeStatsAggPeriod time.Duration
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

// Env is a running standalone kubelet with its containerd.
type Env struct {
	Name string
	// Dir holds everything of the instance but the containerd instance.
	Dir string
	// NodeName is the kubelet's node name.
	NodeName string
	// Containerd is the instance's own containerd, which the kubelet runs
	// its pods on.
	Containerd *containerdenv.Env
	// RootDir is the kubelet's --root-dir; PodLogsDir its podLogsDir.
	RootDir, PodLogsDir string
	// URL is the kubelet's read-only endpoint (http://127.0.0.1:port).
	URL string
	// CgroupDriver is the kubelet's (and containerd's) cgroup driver.
	CgroupDriver containerdenv.CgroupDriver
	// CgroupRoot is the kubelet's cgroupRoot, in cgroupfs form ("/ss_<name>").
	CgroupRoot string
	// PodsCgroup is the cgroup holding the kubelet's QoS and pod cgroups
	// ("/ss_<name>/kubepods", or "/ss_<name>.slice/ss_<name>-kubepods.slice"
	// with the systemd driver), as a pods_cgroup setting names it.
	PodsCgroup string
	// RuntimeCgroup and KubeletCgroup are the cgroups of containerd and the
	// kubelet, which the kubelet reports as system containers: with the
	// cgroupfs driver /ss_<name>/runtime and /ss_<name>/kubelet. Empty with
	// the systemd driver: both then stay in the cgroup of the process that
	// started them (systemd's to manage), the kubelet gets no
	// --runtime-cgroups and reports the cgroup it runs in as its own.
	RuntimeCgroup, KubeletCgroup string
	// Config is the configuration the kubelet runs with.
	Config *kubeletconfig.KubeletConfiguration

	logf func(string, ...any)
}

// paths of an instance, derived from its directory.
type paths struct{ dir string }

func (p paths) ownerFile() string      { return filepath.Join(p.dir, "owner.pid") }
func (p paths) pidFile() string        { return filepath.Join(p.dir, "kubelet.pid") }
func (p paths) logFile() string        { return filepath.Join(p.dir, "kubelet.log") }
func (p paths) config() string         { return filepath.Join(p.dir, "kubelet-config.yaml") }
func (p paths) root() string           { return filepath.Join(p.dir, "root") }
func (p paths) manifests() string      { return filepath.Join(p.dir, "manifests") }
func (p paths) podLogs() string        { return filepath.Join(p.dir, "pod-logs") }
func (p paths) certs() string          { return filepath.Join(p.dir, "pki") }
func (p paths) volumePlugins() string  { return filepath.Join(p.dir, "volume-plugins") }
func (p paths) sysctls() string        { return filepath.Join(p.dir, "sysctl") }
func (p paths) privateDirs() string    { return filepath.Join(p.dir, "private") }
func (p paths) cgroupFile() string     { return filepath.Join(p.dir, "cgroup-root") }
func (p paths) containerdFile() string { return filepath.Join(p.dir, "containerd-dir") }

// cgroupRootName is the instance's cgroup root in cgroupfs form. It has no
// dash, which the systemd driver would read as a slice separator.
func cgroupRootName(name string) string { return "/ss_" + strings.ReplaceAll(name, "-", "_") }

// podsCgroup is where the kubelet puts its QoS classes under root.
func podsCgroup(driver containerdenv.CgroupDriver, root string) string {
	if driver == containerdenv.Systemd {
		r := strings.TrimPrefix(root, "/")
		return "/" + r + ".slice/" + r + "-kubepods.slice"
	}
	return root + "/kubepods"
}

func validName(name string) error {
	if name == "" || len(name) > 12 {
		return fmt.Errorf("instance name %q: want 1 to 12 characters", name)
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Errorf("instance name %q: only a-z, 0-9 and - are allowed", name)
		}
	}
	return nil
}

// Binary returns the kubelet binary in binDir (empty: $BinEnv), or an error
// saying how to get one.
func Binary(binDir string) (string, error) {
	if binDir == "" {
		binDir = os.Getenv(BinEnv)
	}
	if binDir == "" {
		return "", fmt.Errorf("no kubelet binary: set $%s to the directory hack/runtimes/kubelet.sh prints (make test-parity does)", BinEnv)
	}
	bin := filepath.Join(binDir, "kubelet")
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("kubelet binary ($%s=%s): %w; build it with hack/runtimes/kubelet.sh", BinEnv, binDir, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("kubelet binary %s is not an executable file", bin)
	}
	return bin, nil
}

// Start brings up the instance: after removing what an earlier instance of
// that name (or any instance whose owner is gone) left behind, a private
// containerd, the kubelet's cgroup root, configuration and manifests, and the
// kubelet; it returns once the kubelet lists every pod running. The calling
// process becomes the instance's owner. On error nothing of the instance is
// left running (the kubelet's log is named in the error and kept only on
// success).
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	if err := validName(opts.Name); err != nil {
		return nil, err
	}
	if err := containerdenv.CheckRoot(); err != nil {
		return nil, err
	}
	bin, err := Binary(opts.BinDir)
	if err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := CleanupStale(ctx, logf); err != nil {
		return nil, err
	}
	p := paths{filepath.Join(BaseDir, opts.Name)}
	if err := Cleanup(ctx, p.dir); err != nil {
		return nil, fmt.Errorf("clean up the previous instance %s: %w", opts.Name, err)
	}
	for _, d := range []string{p.root(), p.manifests(), p.podLogs(), p.certs(), p.volumePlugins(), p.sysctls(), p.privateDirs()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := os.WriteFile(p.ownerFile(), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, fmt.Errorf("write owner: %w", err)
	}
	defer func() {
		if err != nil {
			if cerr := Cleanup(context.WithoutCancel(ctx), p.dir); cerr != nil {
				err = errors.Join(err, fmt.Errorf("clean up after the failed start: %w", cerr))
			}
		}
	}()

	copts := opts.Containerd
	copts.Name, copts.Logf = opts.Name, logf
	// Record the containerd instance first: teardown removes it through this.
	if err := os.WriteFile(p.containerdFile(), []byte(filepath.Join(containerdenv.BaseDir, opts.Name)), 0o600); err != nil {
		return nil, fmt.Errorf("write containerd dir: %w", err)
	}
	cenv, err := containerdenv.Start(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("start the kubelet's containerd: %w", err)
	}

	env = &Env{
		Name: opts.Name, Dir: p.dir, NodeName: opts.NodeName, Containerd: cenv,
		RootDir: p.root(), PodLogsDir: p.podLogs(),
		CgroupDriver: cenv.CgroupDriver, CgroupRoot: cgroupRootName(opts.Name), logf: logf,
	}
	if env.NodeName == "" {
		env.NodeName = "kubelet-" + opts.Name
	}
	env.PodsCgroup = podsCgroup(env.CgroupDriver, env.CgroupRoot)
	if err := createCgroupRoot(ctx, p, env.CgroupDriver, env.CgroupRoot); err != nil {
		return nil, err
	}
	containerdPID, ok := containerdenv.ReadPID(filepath.Join(cenv.Dir, "containerd.pid"))
	if !ok {
		return nil, fmt.Errorf("no containerd pid in %s", cenv.Dir)
	}
	if env.CgroupDriver == containerdenv.CgroupFS {
		env.RuntimeCgroup, env.KubeletCgroup = runtimeCgroupName(env.CgroupRoot), kubeletCgroupName(env.CgroupRoot)
		for _, cg := range []string{env.RuntimeCgroup, env.KubeletCgroup} {
			if err := makeCgroup(cg); err != nil {
				return nil, err
			}
		}
		if err := moveToCgroup(containerdPID, env.RuntimeCgroup); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	period := opts.VolumeStatsAggPeriod
	if period == 0 {
		period = 10 * time.Second
	}
	env.Config = kubeletConfig(p, cenv, env.CgroupRoot, ports[0], ports[1], period)
	// The kubelet admits 110 pods unless told: a denser node is told.
	if n := int32(len(opts.Pods)); n > 110 {
		env.Config.MaxPods = n
	}
	env.Config.KubeletCgroups = env.KubeletCgroup
	env.URL = "http://127.0.0.1:" + strconv.Itoa(int(env.Config.ReadOnlyPort))
	if err := writeConfig(p.config(), env.Config); err != nil {
		return nil, err
	}
	if err := writeManifests(p.manifests(), opts.Pods); err != nil {
		return nil, err
	}
	if err := prepareNamespace(p, cenv.Socket); err != nil {
		return nil, err
	}
	kubeletPID, err := launch(p, bin, env.NodeName, env.RuntimeCgroup)
	if err != nil {
		return nil, err
	}
	if env.CgroupDriver == containerdenv.CgroupFS {
		// Where a service manager would have started it; the kubelet would
		// move itself there only with its periodic tasks.
		if err := moveToCgroup(kubeletPID, env.KubeletCgroup); err != nil {
			return nil, err
		}
	}
	logf("kubeletenv: kubelet %s for node %s on %s (%s cgroup driver, cgroup root %s), read-only port %s",
		bin, env.NodeName, cenv.Endpoint, env.CgroupDriver, env.CgroupRoot, env.URL)
	// A few hundred pods take their time to start on two cores.
	wait := max(3*time.Minute, time.Duration(len(opts.Pods))*time.Second)
	if err := env.WaitPods(ctx, wait, "every pod running", allRunning(env.podNames(opts.Pods))); err != nil {
		return nil, err
	}
	return env, nil
}

// Close removes the instance: the kubelet first (so that it restarts
// nothing), then its pods and containerd, its cgroups and its directory.
func (e *Env) Close(ctx context.Context) error {
	return Cleanup(ctx, e.Dir)
}

// PID is the kubelet's process ID, false when none is recorded.
func (e *Env) PID() (int, bool) { return containerdenv.ReadPID(paths{e.Dir}.pidFile()) }

// PodName is the name the kubelet gives the static pod of a manifest.
func (e *Env) PodName(manifestName string) string { return manifestName + "-" + e.NodeName }

func (e *Env) podNames(pods []corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, e.PodName(p.Name))
	}
	return out
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(n int) ([]int32, error) {
	var out []int32
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, int32(l.Addr().(*net.TCPAddr).Port))
	}
	return out, nil
}
