package cadvisor

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/container/common"
	"github.com/google/cadvisor/lib/container/libcontainer"
	info "github.com/google/cadvisor/lib/model"
	"github.com/opencontainers/cgroups"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/keptfile"
)

// DefaultRuntimeProcesses are the command names whose cgroup is the runtime
// system container when none is configured.
var DefaultRuntimeProcesses = []string{"containerd", "crio", "dockerd"}

// readFileFunc reads a whole file: os.ReadFile, or a kept file's ReadFile.
type readFileFunc = keptfile.ReadFileFunc

// maxKeptFiles caps the files a provider keeps open: 110 pods of three
// containers need about 1,600 on cgroup v1.
const maxKeptFiles = 4096

// runtimeRescan is how long a failed runtime cgroup detection is trusted.
const runtimeRescan = time.Minute

// Options configure a Provider. The zero value tracks "/" and detects the rest.
type Options struct {
	// PodsCgroup is the kubepods root cgroup ("/kubepods", "/kubepods.slice");
	// empty means the first of those that exists.
	PodsCgroup string
	// SystemCgroups maps Summary system container names (kubelet, runtime,
	// misc, pods) to cgroup names. Unset "pods" is the kubepods root; unset
	// "runtime" is the cgroup of the first RuntimeProcesses process found.
	SystemCgroups map[string]string
	// RuntimeProcesses are the command names looked for to detect the runtime
	// cgroup; nil means DefaultRuntimeProcesses.
	RuntimeProcesses []string
	// RuntimeSocket is the CRI socket the receiver talks to: of several
	// runtime processes, the one listening on it is the runtime.
	RuntimeSocket string
	// TrackContainers also reads the container cgroups inside pod cgroups (the
	// cadvisor provider mode).
	TrackContainers bool
	// ProcRoot is the proc filesystem, "/proc" when empty.
	ProcRoot string
	// Logger receives housekeeping problems; a no-op logger when nil.
	Logger *zap.Logger
}

// metrics is what a Summary needs from a cgroup.
var metrics = container.MetricSet{
	container.CpuUsageMetrics:     struct{}{},
	container.MemoryUsageMetrics:  struct{}{},
	container.ProcessMetrics:      struct{}{},
	container.NetworkUsageMetrics: struct{}{},
	container.PressureMetrics:     struct{}{},
}

// rootMetrics leaves out process metrics for "/": counting every process's
// descriptors on each housekeeping is costly, and the node reports processes
// through rlimit instead.
var rootMetrics = container.MetricSet{
	container.CpuUsageMetrics:     struct{}{},
	container.MemoryUsageMetrics:  struct{}{},
	container.NetworkUsageMetrics: struct{}{},
	container.PressureMetrics:     struct{}{},
}

// Provider keeps the latest sample of every tracked cgroup. Housekeeping runs
// on demand: Current refreshes when the last one is older than asked, so the
// cgroups are read at each collection, next to the runtime's answer, and no
// goroutine of its own runs. All methods are safe for concurrent use.
type Provider struct {
	opts       Options
	subsystems map[string]string // controller -> mount point
	listMount  string            // the hierarchy listed to find cgroups
	capacity   uint64
	// psi: cgroup v2 on a kernel with pressure stall information, where every
	// cgroup has *.pressure files and a reading of zeros is a value (no stall),
	// not an absence.
	psi bool
	// rootLeanFailed says the root's last lean read failed, so that a
	// fallback to the handler is logged when it starts, not at every scrape.
	rootLeanFailed bool

	refreshMu sync.Mutex // one housekeeping at a time
	handlers  map[string]*libcontainer.Handler
	v2        bool // the unified hierarchy
	// lean reads every cgroup with leanStats (the root with leanRootStats)
	// instead of a cAdvisor handler (lean.go); off only where a controller
	// it reads is not mounted.
	lean bool
	prev map[string]cpuSample
	// kept holds the files read at every housekeeping open between them
	// (swept at each housekeeping's end); readProcs reads cgroup.procs
	// through it.
	kept        *keptfile.Files
	readProcs   readFileFunc
	runtimeCg   string    // detected runtime cgroup, "" until found
	runtimeScan time.Time // when /proc was last scanned for the runtime
	runtimeWhy  string    // why the last scan found no runtime cgroup to read
	failing     bool      // the last housekeeping had errors (logged once)
	stopped     bool      // Stop was called: no more housekeeping
	// systemWhy says, after each housekeeping, why a system container is
	// not in the snapshot (see SystemContainers).
	systemWhy map[string]string

	mu   sync.RWMutex
	snap Snapshot
	// readPod, when not nil, says which pod cgroups housekeeping reads; the
	// others are left unread (see SetPodFilter).
	readPod func(uid string) bool

	beforeWait func() // test hook: a Current caller is about to wait for housekeeping
}

// New returns a provider over this host's cgroups. It fails when no cgroup
// hierarchy with the CPU and memory controllers is mounted.
func New(opts Options) (*Provider, error) {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.RuntimeProcesses == nil {
		opts.RuntimeProcesses = DefaultRuntimeProcesses
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	subsystems, err := libcontainer.GetCgroupSubsystems(metrics)
	if err != nil {
		return nil, fmt.Errorf("cgroup mounts: %w", err)
	}
	listMount := subsystems["cpu"]
	if cgroups.IsCgroup2UnifiedMode() {
		listMount = subsystems[""]
	}
	if listMount == "" {
		return nil, errors.New("cgroup mounts: no cpu controller mounted")
	}
	mi, err := readMeminfo(filepath.Join(opts.ProcRoot, "meminfo"))
	if err != nil {
		return nil, err
	}
	capacity := mi.memTotal
	if opts.PodsCgroup == "" {
		opts.PodsCgroup = detectPodsCgroup(listMount)
	}
	_, psiErr := os.Stat(filepath.Join(opts.ProcRoot, "pressure", "cpu"))
	v2 := cgroups.IsCgroup2UnifiedMode()
	p := &Provider{
		opts:       opts,
		subsystems: subsystems,
		listMount:  listMount,
		capacity:   capacity,
		psi:        v2 && psiErr == nil,
		v2:         v2,
		lean:       leanPossible(v2, subsystems),
		handlers:   map[string]*libcontainer.Handler{},
		prev:       map[string]cpuSample{},
		kept:       keptfile.New(maxKeptFiles),
	}
	p.readProcs = p.kept.ProcsReader(v2)
	return p, nil
}

// PodsCgroup is the kubepods root in use, "" when none was configured or found.
func (p *Provider) PodsCgroup() string { return p.opts.PodsCgroup }

// Start runs the first housekeeping, so the first collection already has a
// baseline for CPU rates. A failed one is logged, not fatal.
func (p *Provider) Start() {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	p.stopped = false
	p.housekeep()
}

// Stop ends housekeeping: Current then returns the last snapshot as it is.
// No goroutine is left to wait for; it is safe to call without Start and
// more than once.
func (p *Provider) Stop() {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	p.stopped = true
	p.kept.Close()
}

// Current returns a snapshot taken at most maxAge ago, housekeeping first
// when the last one is older. Concurrent callers share one housekeeping.
// Problems are logged when they start and when they clear.
func (p *Provider) Current(maxAge time.Duration) Snapshot {
	asked := time.Now()
	fresh := func(s Snapshot) bool {
		// A housekeeping that started after the call is as fresh as it gets.
		return !s.Time.IsZero() && (!s.Time.Before(asked) || asked.Sub(s.Time) <= maxAge)
	}
	if s := p.Snapshot(); fresh(s) {
		return s
	}
	if p.beforeWait != nil {
		p.beforeWait()
	}
	p.refreshMu.Lock()
	if !fresh(p.Snapshot()) && !p.stopped {
		p.housekeep()
	}
	p.refreshMu.Unlock()
	return p.Snapshot()
}

// housekeep refreshes and logs changes of health; refreshMu is held.
func (p *Provider) housekeep() {
	err := p.refreshLocked()
	switch {
	case err != nil && !p.failing:
		p.opts.Logger.Warn("cadvisor: housekeeping incomplete; later problems are not logged until it recovers", zap.Error(err))
	case err == nil && p.failing:
		p.opts.Logger.Info("cadvisor: housekeeping recovered")
	}
	p.failing = err != nil
}

// SetPodFilter says which pod cgroups the next housekeepings read: those
// whose UID read returns true; nil reads every pod. A pod left unread is
// absent from Snapshot.Pods but stays tracked, so its CPU baseline is there
// when it is read again. The summary assembler uses it to leave unread the
// pods the runtime answered in full (see summary.Options.Cgroups).
func (p *Provider) SetPodFilter(read func(uid string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.readPod = read
}

// ReadUnreadPods reads, now, the pod cgroups that the latest housekeeping
// left unread (see SetPodFilter) and returns that snapshot with them added;
// the node, the system containers and the pods already read keep their
// samples, and the snapshot becomes the latest. The summary assembler calls it
// when the runtime's answer changed shape within an assembly (the stats path
// fell back from strict to partial), so that pods whose runtime values the
// cgroups no longer back get their cgroup sample in the same assembly. A pod
// cgroup that cannot be read is left out, and logged at debug level.
func (p *Provider) ReadUnreadPods() Snapshot {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	cur := p.Snapshot()
	if p.stopped || p.opts.PodsCgroup == "" || cur.Time.IsZero() {
		return cur
	}
	pods, err := listPodCgroups(p.listMount, p.opts.PodsCgroup)
	if err != nil {
		p.opts.Logger.Debug("cadvisor: reading unread pod cgroups", zap.Error(err))
		return cur
	}
	next := cur
	next.Pods = maps.Clone(cur.Pods)
	if p.opts.TrackContainers {
		next.Containers = maps.Clone(cur.Containers)
	}
	now := time.Now()
	for uid, cg := range pods {
		if _, read := cur.Pods[uid]; read {
			continue
		}
		s, err := p.read(cg, metrics, 0, 0)
		if err != nil {
			p.opts.Logger.Debug("cadvisor: reading an unread pod cgroup", zap.String("pod_uid", uid), zap.Error(err))
			continue
		}
		p.addPodProcessesAndNetwork(s, now)
		next.Pods[uid] = s
		if p.opts.TrackContainers {
			for id, ccg := range listContainerCgroups(p.listMount, cg) {
				if s, err := p.read(ccg, metrics, 0, 0); err == nil {
					next.Containers[id] = s
				}
			}
		}
	}
	p.mu.Lock()
	p.snap = next
	p.mu.Unlock()
	return next
}

// Snapshot returns the latest housekeeping's samples. The maps are shared:
// callers must not modify them.
func (p *Provider) Snapshot() Snapshot {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.snap
}

// Refresh reads every tracked cgroup once and replaces the snapshot. Cgroups
// that cannot be read are left out of it; the error joins why.
func (p *Provider) Refresh() error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	return p.refreshLocked()
}

func (p *Provider) refreshLocked() error {
	var errs []error
	now := time.Now()
	snap := Snapshot{
		Time:           now,
		System:         map[string]*CgroupStats{},
		Pods:           map[string]*CgroupStats{},
		MemoryCapacity: p.capacity,
	}
	seen := map[string]bool{}
	read := func(name string, ms container.MetricSet, pid int, capacity uint64) *CgroupStats {
		seen[name] = true
		s, err := p.read(name, ms, pid, capacity)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return s
	}

	// The host's /proc files are read through the kept descriptors too.
	iface, err := defaultInterfaceWith(p.kept.ReadFile, filepath.Join(p.opts.ProcRoot, "net", "route"))
	if err != nil {
		errs = append(errs, err)
	}
	snap.DefaultInterface = iface
	if snap.Node = read("/", rootMetrics, 1, p.capacity); snap.Node != nil {
		setDefaultInterface(snap.Node.Network, iface)
		errs = append(errs, addHostPressure(p.kept.ReadFile, snap.Node, p.opts.ProcRoot, now)...)
		// Node swap is the host's swap devices, not a cgroup's charge.
		mi, err := readMeminfoWith(p.kept.ReadFile, filepath.Join(p.opts.ProcRoot, "meminfo"))
		switch {
		case err != nil:
			errs = append(errs, err)
		case mi.swapTotal > 0:
			used := mi.swapTotal - min(mi.swapTotal, mi.swapFree)
			snap.Node.Swap = &statsapi.SwapStats{Time: metav1.NewTime(now), SwapUsageBytes: u64(used), SwapAvailableBytes: u64(mi.swapFree)}
		}
	}

	why := map[string]string{}
	for name, cg := range p.systemCgroups(&errs, why) {
		seen[cg] = true
		s, err := p.read(cg, metrics, 0, 0)
		if err != nil {
			errs = append(errs, err)
			why[name] = err.Error()
			continue
		}
		s.StartTime = p.cgroupCreated(cg)
		snap.System[name] = s
	}
	p.systemWhy = why

	if p.opts.PodsCgroup != "" {
		pods, err := listPodCgroups(p.listMount, p.opts.PodsCgroup)
		if err != nil {
			errs = append(errs, err)
		}
		if p.opts.TrackContainers {
			snap.Containers = map[string]*CgroupStats{}
		}
		p.mu.RLock()
		readPod := p.readPod
		p.mu.RUnlock()
		for uid, cg := range pods {
			if readPod != nil && !readPod(uid) {
				p.keepTracked(seen, cg)
				continue
			}
			if s := read(cg, metrics, 0, 0); s != nil {
				p.addPodProcessesAndNetwork(s, now)
				snap.Pods[uid] = s
			}
			if p.opts.TrackContainers {
				for id, ccg := range listContainerCgroups(p.listMount, cg) {
					if s := read(ccg, metrics, 0, 0); s != nil {
						snap.Containers[id] = s
					}
				}
			}
		}
	}

	// Forget cgroups no longer tracked, so a recreated one starts afresh
	// (lean reads keep no handler, only a CPU baseline).
	for name := range p.handlers {
		if !seen[name] {
			delete(p.handlers, name)
		}
	}
	for name := range p.prev {
		if !seen[name] {
			delete(p.prev, name)
		}
	}
	p.kept.Sweep()

	p.mu.Lock()
	p.snap = snap
	p.mu.Unlock()
	return errors.Join(errs...)
}

// keepTracked marks an unread pod cgroup, and its container cgroups when
// they are tracked, as seen, so housekeeping keeps their handlers and CPU
// baselines.
func (p *Provider) keepTracked(seen map[string]bool, podCg string) {
	seen[podCg] = true
	if p.opts.TrackContainers {
		for _, ccg := range listContainerCgroups(p.listMount, podCg) {
			seen[ccg] = true
		}
	}
}

// systemCgroups resolves the system containers: configured names first, then
// the kubepods root for "pods" and the runtime process's cgroup for "runtime".
// The root cgroup is never a system container: it is the node. why receives,
// for each system container left out, the reason.
func (p *Provider) systemCgroups(errs *[]error, why map[string]string) map[string]string {
	out := maps.Clone(p.opts.SystemCgroups)
	if out == nil {
		out = map[string]string{}
	}
	if _, ok := out[statsapi.SystemContainerPods]; !ok && p.opts.PodsCgroup != "" {
		out[statsapi.SystemContainerPods] = p.opts.PodsCgroup
	}
	if _, ok := out[statsapi.SystemContainerRuntime]; !ok {
		// Scanning /proc costs a read per process: until the runtime is
		// found, look again at most once a minute.
		if p.runtimeCg == "" && time.Since(p.runtimeScan) >= runtimeRescan {
			p.runtimeScan = time.Now()
			proc, found, err := findProcessCgroup(p.opts.ProcRoot, p.opts.RuntimeProcesses, "cpu", p.opts.RuntimeSocket)
			switch {
			case err != nil:
				*errs = append(*errs, fmt.Errorf("detect runtime cgroup: %w", err))
				p.runtimeWhy = "detecting its cgroup failed: " + err.Error()
			case !found:
				p.runtimeWhy = fmt.Sprintf("no %s process found in %s", strings.Join(p.opts.RuntimeProcesses, ", "), p.opts.ProcRoot)
			case proc.cgroup == "/":
				p.runtimeWhy = fmt.Sprintf("%s (pid %d) runs in the root cgroup, which is the node's", proc.comm, proc.pid)
			case p.runtimeWhy != "":
				// Found after scans that did not: say so once.
				p.opts.Logger.Info("cadvisor: runtime system container found",
					zap.String("process", proc.comm), zap.Int("pid", proc.pid), zap.String("cgroup", proc.cgroup))
				p.runtimeWhy = ""
			}
			p.runtimeCg = proc.cgroup
		}
		out[statsapi.SystemContainerRuntime] = p.runtimeCg
		if p.runtimeCg == "" || p.runtimeCg == "/" {
			why[statsapi.SystemContainerRuntime] = p.runtimeWhy
		}
	}
	for _, name := range []string{statsapi.SystemContainerKubelet, statsapi.SystemContainerMisc} {
		if _, ok := out[name]; !ok {
			why[name] = "no cgroup configured"
		}
	}
	if _, ok := out[statsapi.SystemContainerPods]; !ok {
		why[statsapi.SystemContainerPods] = fmt.Sprintf("no kubepods cgroup found (%s)", strings.Join(defaultPodsCgroups, ", "))
	}
	for name, cg := range out {
		if cg == "" || cg == "/" {
			if cg == "/" && why[name] == "" {
				why[name] = "its cgroup is /, the node itself"
			}
			delete(out, name)
		}
	}
	return out
}

// SystemContainerStatus says whether a system container is reported and,
// when it is not, why.
type SystemContainerStatus struct {
	// Name is the Summary's name: kubelet, misc, pods or runtime.
	Name string
	// Cgroup is the cgroup read for it; "" when there is none.
	Cgroup string
	// Reason says why it is not reported; "" when it is.
	Reason string
}

// SystemContainers says, for each system container the kubelet can report
// (kubelet, misc, pods, runtime, in that order) and any other configured one,
// whether the last housekeeping reported it, and why not: no cgroup
// configured, no runtime process found or one in the root cgroup, a cgroup
// that cannot be read. Call it after Start.
func (p *Provider) SystemContainers() []SystemContainerStatus {
	p.refreshMu.Lock()
	why := maps.Clone(p.systemWhy)
	p.refreshMu.Unlock()
	snap := p.Snapshot()
	names := []string{statsapi.SystemContainerKubelet, statsapi.SystemContainerMisc, statsapi.SystemContainerPods, statsapi.SystemContainerRuntime}
	for name := range p.opts.SystemCgroups {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	out := make([]SystemContainerStatus, 0, len(names))
	for _, name := range names {
		st := SystemContainerStatus{Name: name}
		if s, ok := snap.System[name]; ok {
			st.Cgroup = s.Cgroup
		} else {
			st.Reason = why[name]
			if st.Reason == "" {
				st.Reason = "not read yet"
			}
		}
		out = append(out, st)
	}
	return out
}

// read samples one cgroup. pid, when not zero, is a process whose network
// namespace the cgroup's network stats come from (1 for the node).
func (p *Provider) read(name string, ms container.MetricSet, pid int, capacity uint64) (*CgroupStats, error) {
	var raw *info.ContainerStats
	if name == "/" && p.lean {
		// The node: read lean, or, where that fails, through the handler.
		s, err := p.leanRootStats()
		if err == nil {
			if p.rootLeanFailed {
				p.opts.Logger.Info("cadvisor: the node's root cgroup is read lean again")
				p.rootLeanFailed = false
			}
			return p.convert(name, s, capacity, true), nil
		}
		if !p.rootLeanFailed {
			p.opts.Logger.Info("cadvisor: reading the node's root cgroup through cAdvisor's handler while its lean read fails", zap.Error(err))
			p.rootLeanFailed = true
		}
	}
	lean := p.lean && pid == 0 && name != "/"
	if lean {
		var err error
		if raw, err = p.leanStats(name); err != nil {
			delete(p.prev, name)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("cgroup %s: not found", name)
			}
			return nil, fmt.Errorf("cgroup %s: read stats: %w", name, err)
		}
	} else {
		var err error
		if raw, err = p.handlerStats(name, ms, pid); err != nil {
			return nil, err
		}
	}
	return p.convert(name, raw, capacity, lean), nil
}

// handlerStats samples a cgroup through its cAdvisor handler, made on first
// use and kept while the cgroup is tracked.
func (p *Provider) handlerStats(name string, ms container.MetricSet, pid int) (*info.ContainerStats, error) {
	h, ok := p.handlers[name]
	if !ok {
		paths := common.MakeCgroupPaths(p.subsystems, name)
		if name == "/" {
			delete(paths, "pids") // the root has no pids.current
		}
		if !common.CgroupExists(paths) {
			return nil, fmt.Errorf("cgroup %s: not found", name)
		}
		mgr, err := libcontainer.NewCgroupManager(name, paths)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", name, err)
		}
		h = libcontainer.NewHandler(mgr, "/", pid, ms)
		p.handlers[name] = h
	}
	raw, err := h.GetStats()
	if err != nil || raw == nil {
		delete(p.handlers, name)
		delete(p.prev, name)
		if err == nil {
			err = errors.New("no stats")
		}
		return nil, fmt.Errorf("cgroup %s: read stats: %w", name, err)
	}
	return raw, nil
}

// convert turns a cgroup's sample into Summary blocks against its previous
// CPU sample, and records this one. lean says the sample is leanStats', which
// leaves pressure out.
func (p *Provider) convert(name string, raw *info.ContainerStats, capacity uint64, lean bool) *CgroupStats {
	var prev *cpuSample
	if s, ok := p.prev[name]; ok {
		prev = &s
	}
	limit := uint64(0)
	if capacity == 0 {
		limit = p.memoryLimit(name)
		capacity = limit
	}
	// A lean sample carries no pressure: it is read from the files below,
	// not taken as zeros.
	out, cur := toCgroupStats(name, raw, prev, capacity, p.psi && !lean)
	out.MemoryLimit = limit
	if p.psi {
		// Pressure files cAdvisor's sample lacks: io.pressure always (cAdvisor
		// reads it only with its disk IO metrics, which would read io.stat
		// too; the cgroup counters read that on their own), cpu and memory
		// for a lean sample. Every cgroup has them on cgroup v2 with PSI; one
		// that cannot be read is no reading.
		dir := filepath.Join(p.subsystems[""], name)
		if lean && out.CPU != nil {
			out.CPU.PSI, _ = readPressureWith(p.kept.ReadFile, filepath.Join(dir, "cpu.pressure"))
		}
		if lean && out.Memory != nil {
			out.Memory.PSI, _ = readPressureWith(p.kept.ReadFile, filepath.Join(dir, "memory.pressure"))
		}
		if out.IO == nil {
			if ps, err := readPressureWith(p.kept.ReadFile, filepath.Join(dir, "io.pressure")); err == nil {
				at := raw.Timestamp
				if at.IsZero() {
					at = time.Now()
				}
				out.IO = &statsapi.IOStats{Time: metav1.NewTime(at), PSI: ps}
			}
		}
	}
	p.prev[name] = cur
	return out
}

// addPodProcessesAndNetwork counts a pod's processes over its container
// cgroups (the pod cgroup itself holds none), in all and per container with
// each container's memory limit, and reads the pod's network namespace
// through one of them.
func (p *Provider) addPodProcessesAndNetwork(s *CgroupStats, now time.Time) {
	count, byContainer, pid := podProcs(p.readProcs, p.listMount, s.Cgroup)
	if count > 0 {
		s.Process = &statsapi.ProcessStats{ProcessCount: u64(count)}
	}
	s.Containers = make(map[string]ContainerCgroup, len(byContainer))
	for id, c := range byContainer {
		s.Containers[id] = ContainerCgroup{Processes: c.count, MemoryLimit: p.memoryLimit(c.cgroup)}
	}
	if pid > 0 {
		s.Network = podNetwork(p.opts.ProcRoot, pid, now)
	}
}

// unlimitedMemory: a memory limit above it is none, as the kubelet's
// isMemoryUnlimited decides (cgroup v1 reports "unlimited" as 2^63 − 4096;
// v2 writes "max"). A limit at or above the node's memory is a limit: the
// kubelet's kubepods cgroup has one on a node without reservations.
const unlimitedMemory = 1 << 62

// memoryLimit is a cgroup's memory limit, 0 when it has none.
func (p *Provider) memoryLimit(name string) uint64 {
	var file string
	if p.v2 {
		file = filepath.Join(p.subsystems[""], name, "memory.max")
	} else if m := p.subsystems["memory"]; m != "" {
		file = filepath.Join(m, name, "memory.limit_in_bytes")
	}
	if file == "" {
		return 0
	}
	data, err := p.kept.ReadFile(file)
	if err != nil {
		return 0
	}
	v, _ := parseMemoryLimit(data) // "max", above 2^62 or unparsable: none
	return v
}

// cgroupCreated is when a cgroup was made, as cAdvisor tells it: the oldest
// modification time of its directories across hierarchies. Zero when unknown.
func (p *Provider) cgroupCreated(name string) time.Time {
	var oldest time.Time
	for _, m := range p.subsystems {
		fi, err := os.Stat(filepath.Join(m, name))
		if err != nil {
			continue
		}
		if oldest.IsZero() || fi.ModTime().Before(oldest) {
			oldest = fi.ModTime()
		}
	}
	return oldest
}
