package containerdenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BaseDir holds one directory per instance, named after the instance.
const BaseDir = "/var/lib/statssummary-runtime"

// Image references of the locally built images.
const (
	ShellImage = "localhost/busybox:local" // busybox, entrypoint none, cmd sh
	PauseImage = "localhost/pause:local"   // busybox sleeping forever: the sandbox image
)

// Packages names the Debian packages that provide what an instance runs.
const Packages = "containerd runc busybox-static containernetworking-plugins iproute2"

// SystemBinaries is where Debian's containerd (1.6) puts containerd, its runc
// shim and ctr.
const SystemBinaries = "/usr/bin"

// runcPath is Debian's runc, which every containerd version here runs.
const runcPath = "/usr/sbin/runc"

// containerdBinaries are what an instance runs from its binaries directory.
var containerdBinaries = []string{"containerd", "containerd-shim-runc-v2", "ctr"}

// DefaultBinaries is $STATSSUMMARY_CONTAINERD_BIN when set (a directory
// holding containerd, containerd-shim-runc-v2 and ctr, e.g. a containerd 2.x
// built by hack/runtimes/containerd.sh), else SystemBinaries.
func DefaultBinaries() string {
	if d := os.Getenv("STATSSUMMARY_CONTAINERD_BIN"); d != "" {
		return d
	}
	return SystemBinaries
}

// tools are the other binaries an instance needs, with the package providing each.
var tools = []struct{ path, pkg string }{
	{runcPath, "runc"},
	{"/bin/busybox", "busybox-static"},
	{"/usr/lib/cni/bridge", "containernetworking-plugins"},
	{"/usr/lib/cni/host-local", "containernetworking-plugins"},
	{"/usr/lib/cni/loopback", "containernetworking-plugins"},
	{"/usr/sbin/ip", "iproute2"},
}

// Options configure an instance.
type Options struct {
	// Name identifies the instance: its directory is BaseDir/Name, its CNI
	// network and bridge are named after it. At most 12 characters of
	// [a-z0-9-]. Starting an instance of a name first removes whatever an
	// earlier instance of that name left behind.
	Name string
	// Binaries is the directory holding containerd, containerd-shim-runc-v2
	// and ctr; empty means DefaultBinaries(). The daemon finds the shim there
	// first.
	Binaries string
	// CgroupDriver names pod and container cgroups as the kubelet's driver
	// does (containerd's SystemdCgroup follows it); empty means
	// DefaultCgroupDriver().
	CgroupDriver CgroupDriver
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

// Env is a running private containerd.
type Env struct {
	Name string
	// Dir holds everything of the instance.
	Dir string
	// Socket is containerd's gRPC (and CRI) socket path; Endpoint is its unix:// URL.
	Socket, Endpoint string
	// Snapshotter is "overlayfs" or "native".
	Snapshotter string
	// Binaries is the directory the daemon, shim and ctr run from.
	Binaries string
	// CgroupDriver is how the instance's pods' cgroups are named.
	CgroupDriver CgroupDriver
	// RuntimeName and RuntimeVersion are what the runtime answers to Version
	// ("containerd", "v2.4.2" or "1.6.20~ds1").
	RuntimeName, RuntimeVersion string
	// Runtime and Image are CRI clients connected to the instance.
	Runtime runtimeapi.RuntimeServiceClient
	Image   runtimeapi.ImageServiceClient

	conn *grpc.ClientConn
	logf func(string, ...any)
}

// paths of an instance, derived from its directory.
type paths struct{ dir string }

func (p paths) config() string   { return filepath.Join(p.dir, "containerd.toml") }
func (p paths) socket() string   { return filepath.Join(p.dir, "containerd.sock") }
func (p paths) ttrpc() string    { return filepath.Join(p.dir, "containerd.sock.ttrpc") }
func (p paths) root() string     { return filepath.Join(p.dir, "root") }
func (p paths) state() string    { return filepath.Join(p.dir, "state") }
func (p paths) runcRoot() string { return filepath.Join(p.dir, "runc") }
func (p paths) cniConf() string  { return filepath.Join(p.dir, "cni", "conf") }
func (p paths) cniIPAM() string  { return filepath.Join(p.dir, "cni", "ipam") }
func (p paths) pidFile() string  { return filepath.Join(p.dir, "containerd.pid") }
func (p paths) ownerFile() string {
	return filepath.Join(p.dir, "owner.pid")
}
func (p paths) podsFile() string { return filepath.Join(p.dir, "pod-uids") }

// createdLogsDir marks that this instance created PodLogsDir, so its teardown
// removes it once empty.
func (p paths) createdLogsDir() string { return filepath.Join(p.dir, "created-pod-logs-dir") }
func (p paths) daemonLog() string {
	return filepath.Join(p.dir, "containerd.log")
}

func bridgeName(name string) string { return "ss-" + name }

// daemonScopePrefix begins the names of the systemd scopes the daemon runs in
// with the systemd driver: one per start, since a killed daemon's scope lives
// on with its shims.
func daemonScopePrefix(name string) string { return "statssummary-containerd-" + name + "-" }

// DaemonPID is the daemon's process ID, false when none is recorded.
func (e *Env) DaemonPID() (int, bool) { return readPID(paths{e.Dir}.pidFile()) }

// DaemonCgroup is the cgroup the daemon runs in, relative to a hierarchy's
// root, as /proc/PID/cgroup says (its cpu controller's on cgroup v1).
func (e *Env) DaemonCgroup() (string, error) {
	pid, ok := e.DaemonPID()
	if !ok {
		return "", errors.New("daemon cgroup: no PID recorded")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("daemon cgroup: %w", err)
	}
	unified := ""
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			unified = parts[2]
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "cpu" {
				return parts[2], nil
			}
		}
	}
	if unified == "" {
		return "", fmt.Errorf("daemon cgroup: no cgroup in /proc/%d/cgroup", pid)
	}
	return unified, nil
}
func networkName(name string) string { return "statssummary-" + name }

// CheckRoot says clearly why an instance cannot run without root.
func CheckRoot() error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("a private containerd needs root (mounts, cgroups, network namespaces), but this runs as uid %d: run it as root (e.g. sudo -E make test)", uid)
	}
	return nil
}

// CheckTools reports every missing binary with the package that provides it,
// for the default binaries directory.
func CheckTools() error { return checkTools(DefaultBinaries()) }

func checkTools(binaries string) error {
	var missing []string
	for _, b := range containerdBinaries {
		path := filepath.Join(binaries, b)
		if _, err := os.Stat(path); err != nil {
			if binaries == SystemBinaries {
				missing = append(missing, fmt.Sprintf("%s (package containerd)", path))
			} else {
				missing = append(missing, fmt.Sprintf("%s (build it with hack/runtimes/containerd.sh)", path))
			}
		}
	}
	for _, t := range tools {
		if _, err := os.Stat(t.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", t.path, t.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: apt-get install -y --no-install-recommends %s", strings.Join(missing, ", "), Packages)
	}
	return nil
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

// Start brings up a private containerd named opts.Name, after removing what an
// earlier instance of that name (or any instance whose owner is gone) left
// behind. The calling process becomes the instance's owner. On error nothing of
// the instance is left running.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	if err := validName(opts.Name); err != nil {
		return nil, err
	}
	if err := CheckRoot(); err != nil {
		return nil, err
	}
	if opts.Binaries == "" {
		opts.Binaries = DefaultBinaries()
	}
	if opts.CgroupDriver == "" {
		opts.CgroupDriver = DefaultCgroupDriver()
	}
	if err := checkTools(opts.Binaries); err != nil {
		return nil, err
	}
	if err := opts.CgroupDriver.check(); err != nil {
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
	for _, d := range []string{p.root(), p.state(), p.runcRoot(), p.cniConf(), p.cniIPAM()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := os.WriteFile(p.ownerFile(), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, fmt.Errorf("write owner: %w", err)
	}
	if _, err := os.Stat(PodLogsDir); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(p.createdLogsDir(), nil, 0o600); err != nil {
			return nil, fmt.Errorf("write marker: %w", err)
		}
		if err := os.MkdirAll(PodLogsDir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", PodLogsDir, err)
		}
	}
	defer func() {
		if err != nil {
			if cerr := Cleanup(context.WithoutCancel(ctx), p.dir); cerr != nil {
				err = errors.Join(err, fmt.Errorf("clean up after the failed start: %w", cerr))
			}
		}
	}()

	env = &Env{
		Name: opts.Name, Dir: p.dir, Socket: p.socket(), Endpoint: "unix://" + p.socket(),
		Binaries: opts.Binaries, CgroupDriver: opts.CgroupDriver, logf: logf,
	}
	env.Snapshotter = probeSnapshotter(p.dir)
	logf("containerdenv: instance %s in %s, containerd from %s, %s cgroup driver (cgroup v2: %v), snapshotter %s",
		opts.Name, p.dir, env.Binaries, env.CgroupDriver, CgroupV2(), env.Snapshotter)
	if err := os.WriteFile(p.config(), []byte(containerdConfig(p, env.Snapshotter, env.CgroupDriver)), 0o600); err != nil {
		return nil, fmt.Errorf("write containerd config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(p.cniConf(), "10-statssummary.conflist"), []byte(cniConfig(p, opts.Name)), 0o600); err != nil {
		return nil, fmt.Errorf("write cni config: %w", err)
	}
	if err := startDaemon(p, env.Binaries, env.CgroupDriver); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("unix://"+p.socket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", p.socket(), err)
	}
	env.conn = conn
	env.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	env.Image = runtimeapi.NewImageServiceClient(conn)
	if err := env.waitReady(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	v, err := env.Runtime.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("CRI Version: %w", err)
	}
	env.RuntimeName, env.RuntimeVersion = v.GetRuntimeName(), v.GetRuntimeVersion()
	logf("containerdenv: %s %s (CRI %s)", env.RuntimeName, env.RuntimeVersion, v.GetRuntimeApiVersion())
	if err := env.importImages(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return env, nil
}

// startDaemon runs containerd from the binaries directory in its own session
// (a Ctrl-C at the terminal is for the owner, which then tears the instance
// down in order) and records its PID. The directory comes first on the
// daemon's PATH, so that it starts its own version's shim. With the systemd
// driver the daemon runs in a scope of its own under system.slice, as a
// node's containerd.service does (systemd-run --scope execs it, so the PID is
// the daemon's).
func startDaemon(p paths, binaries string, driver CgroupDriver) error {
	logFile, err := os.OpenFile(p.daemonLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open containerd log: %w", err)
	}
	defer logFile.Close()
	args := []string{filepath.Join(binaries, "containerd"), "--config", p.config()}
	if driver == Systemd {
		args = append([]string{"systemd-run", "--quiet", "--scope", "--slice=system.slice", "--unit=" + daemonScopePrefix(filepath.Base(p.dir)) + strconv.FormatInt(time.Now().UnixNano(), 36) + ".scope"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+binaries+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	if err := os.WriteFile(p.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		return fmt.Errorf("write containerd pid: %w", err)
	}
	// Reap it when it exits; the instance is stopped through its PID file.
	go func() { _ = cmd.Wait() }()
	return nil
}

// waitReady polls until the CRI reports the runtime ready, for at most 30 s.
func (e *Env) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		resp, err := e.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
		if err == nil {
			last = errors.New("runtime not ready")
			for _, c := range resp.GetStatus().GetConditions() {
				if c.GetType() == runtimeapi.RuntimeReady && c.GetStatus() {
					e.logf("containerdenv: CRI ready on %s", e.Socket)
					return nil
				}
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd on %s not ready (log: %s): %w", e.Socket, paths{e.Dir}.daemonLog(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close removes the instance: pods through CRI first, then everything else.
func (e *Env) Close(ctx context.Context) error {
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
	return Cleanup(ctx, e.Dir)
}

// probeSnapshotter mounts a tiny overlay under dir: overlayfs when it works,
// else native.
func probeSnapshotter(dir string) string {
	probe := filepath.Join(dir, "overlay-probe")
	defer os.RemoveAll(probe)
	var lower, upper, work, merged = filepath.Join(probe, "l"), filepath.Join(probe, "u"), filepath.Join(probe, "w"), filepath.Join(probe, "m")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "native"
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, data); err != nil {
		return "native"
	}
	_ = syscall.Unmount(merged, 0)
	return "overlayfs"
}

// containerdConfig is the instance's config: everything under its directory, no
// plugin that writes elsewhere (opt), the CRI plugin set up as the notes say.
func containerdConfig(p paths, snapshotter string, driver CgroupDriver) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stats_collect_period = 2
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = %[6]q
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = %[9]t
        BinaryName = %[10]q
        Root = %[7]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[8]q
    max_conf_num = 1
`, p.root(), p.state(), p.socket(), p.ttrpc(), PauseImage, snapshotter, p.runcRoot(), p.cniConf(), driver == Systemd, runcPath)
}

// PodSubnet is the subnet of the instance's bridge. Pods on it reach only each
// other: the bridge has no address, and pods get no default route.
const PodSubnet = "10.213.0.0/24"

// PodSubnetAddresses is how many pods with their own network namespace fit on
// PodSubnet at once: host-local hands out .2 to .254 (it keeps .1 for the
// range's gateway, though the bridge has no address).
const PodSubnetAddresses = 253

func cniConfig(p paths, name string) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": false,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}
  }]
}
`, networkName(name), bridgeName(name), PodSubnet, p.cniIPAM())
}
