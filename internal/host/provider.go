package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/keptfile"
)

// Defaults of Options.
const (
	DefaultKubeletRootDir = "/var/lib/kubelet"
	DefaultPodLogsDir     = "/var/log/pods"
	// DefaultWalkPeriod is the kubelet's volume stats period.
	DefaultWalkPeriod = time.Minute
	// DefaultLogWalkPeriod is how often container log usage is measured when
	// Options.LogWalkPeriod is zero: the receiver's default collection
	// interval, so that log figures are as fresh as a scrape.
	DefaultLogWalkPeriod = 10 * time.Second
)

// Options configure a Provider.
type Options struct {
	// KubeletRootDir holds pods/<uid>/{volumes,etc-hosts}; the filesystem of
	// its pods directory is the node fs. DefaultKubeletRootDir when empty.
	KubeletRootDir string
	// PodLogsDir holds <namespace>_<name>_<uid>/<container>/*.log.
	// DefaultPodLogsDir when empty.
	PodLogsDir string
	// ProcRoot is the proc filesystem, "/proc" when empty; SysRoot is
	// sysfs, "/sys" when empty.
	ProcRoot, SysRoot string
	// WalkPeriod is how often volume and etc-hosts usage is measured;
	// DefaultWalkPeriod when zero.
	WalkPeriod time.Duration
	// LogWalkPeriod is how often container log usage is measured, on its own
	// period: the runtime provider leaves logs to this walker, so it should
	// be no longer than the collection interval. DefaultLogWalkPeriod when
	// zero.
	LogWalkPeriod time.Duration
	// Logger receives walk problems; a no-op logger when nil.
	Logger *zap.Logger
}

// NodeStats are the node facts of one scrape.
type NodeStats struct {
	StartTime time.Time
	Fs        *statsapi.FsStats
	Rlimit    *statsapi.RlimitStats
	// Capacity is read once, as the boot time is; zero until it could be.
	Capacity Capacity
}

// PodStats is a pod's filesystem usage from the last walk.
type PodStats struct {
	// Volumes with usage and capacity, each measured as the kubelet's
	// volume plugin does (see walkVolumes): du for local directories,
	// statfs of the mount for CSI and other mounted volumes. Each is named
	// as the kubelet names the directory: the pod-spec volume name, except
	// for a persistent CSI volume, named after its PersistentVolume (the
	// claim and the pod-spec name are not on the node's disk). PVCRef is
	// never set here: the node knows no claim (the assembler renames such a
	// volume and sets it from the optional pod metadata, summary.Options.Claims).
	Volumes []statsapi.VolumeStats
	// VolumeTypes names each volume's source as the pod spec does
	// (emptyDir, configMap, secret, csi, …), read from its plugin directory.
	VolumeTypes map[string]string
	// EphemeralVolumeBytes and EphemeralVolumeInodes sum the disk-backed
	// ephemeral volumes (emptyDir, configMap, secret, projected, …).
	EphemeralVolumeBytes, EphemeralVolumeInodes uint64
	// Logs by container name: the files directly in the container's log
	// directory, as the kubelet counts them (the directory itself and
	// anything below a subdirectory are not).
	Logs map[string]*statsapi.FsStats
	// PodLogBytes and PodLogInodes are the files directly in the pod's log
	// directory (not its container directories), which the kubelet counts
	// in the pod's ephemeral storage.
	PodLogBytes, PodLogInodes uint64
	// EtcHostsBytes is the size on disk of the pod's etc-hosts file.
	EtcHostsBytes, EtcHostsInodes uint64
	// Time is when the walk measured it.
	Time time.Time
}

// Provider serves node facts on demand (cheap reads and a statfs) and pod
// filesystem usage from a background walker.
type Provider struct {
	opts Options

	mu       sync.RWMutex
	pods     map[string]PodStats // by pod UID, without logs
	walked   bool                // a walk has completed
	walkTime time.Time           // when the last completed walk started
	// logs are the last log walk's figures by pod UID. They are measured
	// on their own period and joined in Pod.
	logs map[string]podLogs

	// bootTime is read from /proc/stat once, as the kubelet does: it is the
	// node's start time for the life of the process.
	bootMu   sync.Mutex
	bootTime time.Time
	capacity Capacity

	// kept reads the pid limits' three /proc files, at every Node, through
	// descriptors kept open (one pread each instead of open, fstat, read
	// and close); they never go, so nothing is swept. Guarded by keptMu.
	keptMu sync.Mutex
	kept   *keptfile.Files

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a provider; Start begins the walks.
func New(opts Options) *Provider {
	if opts.KubeletRootDir == "" {
		opts.KubeletRootDir = DefaultKubeletRootDir
	}
	if opts.PodLogsDir == "" {
		opts.PodLogsDir = DefaultPodLogsDir
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SysRoot == "" {
		opts.SysRoot = "/sys"
	}
	if opts.WalkPeriod <= 0 {
		opts.WalkPeriod = DefaultWalkPeriod
	}
	if opts.LogWalkPeriod <= 0 {
		opts.LogWalkPeriod = DefaultLogWalkPeriod
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Provider{opts: opts, pods: map[string]PodStats{}, kept: keptfile.New(rlimitFiles)}
}

// rlimitFiles is how many files Node keeps open: pid_max, threads-max and
// loadavg.
const rlimitFiles = 3

// Node reads boot time, pid limits and statfs of the kubelet's pods
// directory, <root>/pods (its nearest existing parent while it does not
// exist). The kubelet's node fs is its root directory's filesystem, which is
// the pods directory's on every node but one where pods/ is a mount of its
// own. Statfs of the pods directory is what a collector in a pod can ask: its
// DaemonSet mounts only pods/ of the root directory (the rest holds the
// kubelet's keys and plugin sockets), so the root directory itself is, inside
// the pod, a directory of the collector's own image. Each failing part is
// left nil and named in the joined error.
func (p *Provider) Node() (NodeStats, error) {
	now := time.Now()
	var out NodeStats
	var errs []error
	bt, err := p.boot()
	if err != nil {
		errs = append(errs, err)
	}
	out.StartTime = bt
	if out.Capacity, err = p.nodeCapacity(); err != nil {
		errs = append(errs, err)
	}
	p.keptMu.Lock()
	out.Rlimit, err = rlimit(p.kept.ReadFile, p.opts.ProcRoot, now)
	p.keptMu.Unlock()
	if err != nil {
		errs = append(errs, err)
	}
	dir, err := existingDir(filepath.Join(p.opts.KubeletRootDir, "pods"))
	if err == nil {
		out.Fs, err = FsStats(dir, now)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("node fs: %w", err))
	}
	return out, errors.Join(errs...)
}

// boot returns the node's boot time, read on the first call that succeeds.
func (p *Provider) boot() (time.Time, error) {
	p.bootMu.Lock()
	defer p.bootMu.Unlock()
	if !p.bootTime.IsZero() {
		return p.bootTime, nil
	}
	bt, err := BootTime(p.opts.ProcRoot)
	if err == nil {
		p.bootTime = bt
	}
	return bt, err
}

// nodeCapacity returns the node's capacity, read on the first call that
// succeeds (CPU hotplug and memory hot-add are not followed, as the kubelet
// follows them only on restart).
func (p *Provider) nodeCapacity() (Capacity, error) {
	p.bootMu.Lock()
	defer p.bootMu.Unlock()
	if p.capacity.CPUs > 0 {
		return p.capacity, nil
	}
	c, err := ReadCapacity(p.opts.SysRoot, p.opts.ProcRoot)
	if err == nil {
		p.capacity = c
	}
	return c, err
}

// Pod returns the last walk's usage for a pod: zero for a pod the walk did not
// find (no volumes, logs or etc-hosts on this node). ok is false until a first
// walk has completed: nothing is known yet.
func (p *Provider) Pod(uid string) (PodStats, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.walked {
		return PodStats{}, false
	}
	s, ok := p.pods[uid]
	if !ok {
		s = PodStats{Time: p.walkTime}
	}
	l := p.logs[uid]
	s.Logs = l.containers
	s.PodLogBytes, s.PodLogInodes = l.files.bytes, l.files.inodes
	if s.Logs == nil && ok {
		s.Logs = map[string]*statsapi.FsStats{}
	}
	return s, true
}

// podLogs is one pod's log usage: per container, and the pod log directory's
// own files.
type podLogs struct {
	containers map[string]*statsapi.FsStats
	files      usage
}

// Start walks once in the background right away, then volumes and etc-hosts
// every WalkPeriod and container logs every LogWalkPeriod, until Stop.
func (p *Provider) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := p.Walk(ctx); err != nil && ctx.Err() == nil {
			p.opts.Logger.Debug("host: volume and log walk incomplete", zap.Error(err))
		}
		volumes := time.NewTicker(p.opts.WalkPeriod)
		defer volumes.Stop()
		logs := time.NewTicker(p.opts.LogWalkPeriod)
		defer logs.Stop()
		for {
			var err error
			select {
			case <-ctx.Done():
				return
			case <-volumes.C:
				err = p.walkPods(ctx)
			case <-logs.C:
				err = p.walkLogs(ctx)
			}
			if err != nil && ctx.Err() == nil {
				p.opts.Logger.Debug("host: volume or log walk incomplete", zap.Error(err))
			}
		}
	}()
}

// Stop ends the walker, interrupting a walk in progress, and waits for it;
// safe without Start and twice.
func (p *Provider) Stop() {
	p.keptMu.Lock()
	p.kept.Close()
	p.keptMu.Unlock()
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel = nil
}

// Walk measures every pod's volumes, logs and etc-hosts once and replaces the
// results, unless ctx ends first (the last results are then kept). Start runs
// it once, then its two halves on their periods.
func (p *Provider) Walk(ctx context.Context) error {
	return errors.Join(p.walkPods(ctx), p.walkLogs(ctx))
}

// walkPods measures every pod's volumes and etc-hosts and replaces those
// results, unless ctx ends first.
func (p *Provider) walkPods(ctx context.Context) error {
	var errs []error
	pods := map[string]PodStats{}
	now := time.Now()
	podsDir := filepath.Join(p.opts.KubeletRootDir, "pods")
	entries, err := os.ReadDir(podsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("list %s: %w", podsDir, err))
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		uid := e.Name()
		ps := PodStats{Time: now}
		errs = append(errs, p.walkVolumes(ctx, filepath.Join(podsDir, uid, "volumes"), &ps, now)...)
		if u, err := diskUsage(ctx, filepath.Join(podsDir, uid, "etc-hosts")); err == nil {
			ps.EtcHostsBytes, ps.EtcHostsInodes = u.bytes, u.inodes
		}
		pods[uid] = ps
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	p.pods, p.walked, p.walkTime = pods, true, now
	p.mu.Unlock()
	return errors.Join(errs...)
}

// walkLogs measures every container's log directory and replaces those
// results, unless ctx ends first. Pods with logs but no pod directory are
// known from their logs alone. As the kubelet's host stats provider does, a
// container's log usage is the files directly in its directory
// (<namespace>_<name>_<uid>/<container>/*), each measured on its own; the
// directory itself is not counted, nor anything in a subdirectory.
func (p *Provider) walkLogs(ctx context.Context) error {
	var errs []error
	logs := map[string]podLogs{}
	now := time.Now()
	logDirs, err := os.ReadDir(p.opts.PodLogsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("list %s: %w", p.opts.PodLogsDir, err))
	}
	// Logs carry the capacity of the filesystem that holds them, as the
	// runtime provider's own measurement did; unknown when statfs fails.
	logFs, _ := FsStats(p.opts.PodLogsDir, now)
	for _, e := range logDirs {
		// <namespace>_<name>_<uid>
		i := strings.LastIndex(e.Name(), "_")
		if !e.IsDir() || i < 0 {
			continue
		}
		uid := e.Name()[i+1:]
		pl := logs[uid]
		if pl.containers == nil {
			pl.containers = map[string]*statsapi.FsStats{}
		}
		dir := filepath.Join(p.opts.PodLogsDir, e.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // removed meanwhile
		}
		for _, c := range entries {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			path := filepath.Join(dir, c.Name())
			if !c.IsDir() {
				f, err := fileUsage(path)
				if err != nil {
					errs = append(errs, fmt.Errorf("log usage %s: %w", path, err))
				}
				pl.files.add(f)
				continue
			}
			u, err := filesUsage(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("log usage %s: %w", path, err))
				continue
			}
			l := &statsapi.FsStats{Time: metav1.NewTime(now), UsedBytes: ptr(u.bytes), InodesUsed: ptr(u.inodes)}
			if logFs != nil {
				l.CapacityBytes, l.AvailableBytes = logFs.CapacityBytes, logFs.AvailableBytes
				l.Inodes, l.InodesFree = logFs.Inodes, logFs.InodesFree
			}
			pl.containers[c.Name()] = l
		}
		logs[uid] = pl
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	p.logs = logs
	p.mu.Unlock()
	return errors.Join(errs...)
}

func ptr(v uint64) *uint64 { return &v }
