// Command nodebench measures what a node pays per scrape of its stats —
// kubelet, container runtime (daemon and shims) and collector together —
// for the kubelet path (kubeletstats reading a real kubelet's /stats/summary)
// and for each of our plans (stats_summary reading the runtime over CRI and
// the cgroups), on the same node: a standalone kubelet 1.37
// (internal/testenv/kubeletenv) running -pods static pods of -containers
// sleeping containers on a private containerd (STATSSUMMARY_CONTAINERD_BIN
// picks 2.x; the system's 1.6 otherwise). make bench-node runs it (root).
//
// Method. After the pods run and the node settles (-settle), each round
// measures every plan in turn: first a baseline window with no scraper (the
// kubelet's own housekeeping and the runtime's background work, paid
// whether anyone scrapes or not), then the plan's collector — hack/peer's
// driver, in a process of its own, scraping every -interval — over -scrapes
// scrapes. Each process's CPU over the collector's window, less its baseline
// rate over the same time, divided by the scrapes, is its cost per scrape;
// the collector's own is what the driver measured in its process. Processes'
// CPU comes from /proc/PID/stat (user, system and waited-for children, in
// clock ticks: 10 ms). Both collectors emit kubeletstats' default metric set.
//
// Writes a Markdown table (median and range over rounds) and every
// measurement as a JSON line to -out, and prints the table.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/kubeletenv"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on Linux).
const clockTick = 10 * time.Millisecond

type options struct {
	pods, containers int
	hostNetwork      bool
	plans            []string
	rounds, scrapes  int
	interval         time.Duration
	baseline, settle time.Duration
	criTimeout       time.Duration
	statsEvery       int
	peer, out        string
}

func main() {
	var o options
	var plans string
	flag.IntVar(&o.pods, "pods", 110, "static pods")
	flag.IntVar(&o.containers, "containers", 1, "sleeping containers per pod")
	flag.BoolVar(&o.hostNetwork, "host-network", true, "pods on the host's network (false: each in its own namespace, through the instance's CNI bridge)")
	flag.StringVar(&plans, "plans", "kubelet,auto,auto/0,cri", "what to measure: kubelet (the kubelet path with kubeletstats) and our modes; mode/N sets the mode's stats every N scrapes (mode/0: at every scrape, no identity answers)")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds of every plan")
	flag.IntVar(&o.scrapes, "scrapes", 20, "scrapes measured per plan and round")
	flag.DurationVar(&o.interval, "interval", time.Second, "between scrapes")
	flag.DurationVar(&o.baseline, "baseline", 20*time.Second, "idle window before each plan")
	flag.DurationVar(&o.settle, "settle", 60*time.Second, "wait after the pods run before the first round")
	flag.DurationVar(&o.criTimeout, "cri-timeout", 0, "our cri.timeout (0: the interval less 100 ms)")
	flag.IntVar(&o.statsEvery, "stats-every", 6, "the identity plan (modes auto, cri+cadvisor, cadvisor): the runtime's stats every this many scrapes (cri.stats_interval; 6 is the default 1m at a 10 s interval) for a plan without /N")
	flag.StringVar(&o.peer, "peer", "build/peer", "hack/peer's driver binary")
	flag.StringVar(&o.out, "out", "build/perf/node.txt", "report")
	flag.Parse()
	o.plans = strings.Split(plans, ",")
	for _, p := range o.plans {
		if _, _, err := planMode(p, o.statsEvery); err != nil || p == "" {
			fmt.Fprintf(os.Stderr, "nodebench: -plans: %q: %v\n", p, err)
			os.Exit(2)
		}
	}
	if o.criTimeout == 0 {
		o.criTimeout = o.interval - 100*time.Millisecond
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "nodebench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(o options) error {
	if err := containerdenv.CheckRoot(); err != nil {
		return err
	}
	if _, err := kubeletenv.Binary(""); err != nil {
		return err
	}
	if _, err := os.Stat(o.peer); err != nil {
		return fmt.Errorf("driver: %w (go -C hack/peer build -o ../../build/peer .)", err)
	}
	ctx := context.Background()
	logf("starting a kubelet with %d pods × %d containers", o.pods, o.containers)
	k, err := kubeletenv.Start(ctx, kubeletenv.Options{Name: "nodebench", Pods: pods(o), Logf: func(f string, a ...any) { logf(f, a...) }})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := k.Close(cctx); err != nil {
			logf("teardown: %v", err)
		}
	}()
	node := fmt.Sprintf("kubelet %s, %s %s, %d pods × %d containers (hostNetwork %v), cgroup driver %s, cgroup v2 %v",
		kubeletVersion(), k.Containerd.RuntimeName, k.Containerd.RuntimeVersion, o.pods, o.containers, o.hostNetwork, k.CgroupDriver, containerdenv.CgroupV2())
	logf("%s; settling %s", node, o.settle)
	time.Sleep(o.settle)

	var results []result
	for r := 1; r <= o.rounds; r++ {
		for _, plan := range o.plans {
			res, err := measure(ctx, o, k, plan)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r, plan, err)
			}
			res.Round = r
			logf("round %d %-8s kubelet %6.2f  runtime %6.2f  collector %6.2f  node %6.2f ms/scrape", r, plan, res.Kubelet, res.Runtime, res.Collector, res.Total)
			results = append(results, res)
		}
	}
	return report(o, node, results)
}

func kubeletVersion() string {
	bin, err := kubeletenv.Binary("")
	if err != nil {
		return "?"
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "Kubernetes ")
}

// pods are the static pods: each -containers busybox sleepers.
func pods(o options) []corev1.Pod {
	var grace int64 = 1
	out := make([]corev1.Pod, o.pods)
	for i := range out {
		cs := make([]corev1.Container, o.containers)
		for j := range cs {
			cs[j] = corev1.Container{
				Name:            fmt.Sprintf("c%d", j),
				Image:           containerdenv.ShellImage,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sleep", "2147483647"},
			}
		}
		out[i] = corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("nb-%03d", i), Namespace: metav1.NamespaceDefault},
			Spec: corev1.PodSpec{
				Containers:                    cs,
				HostNetwork:                   o.hostNetwork,
				RestartPolicy:                 corev1.RestartPolicyAlways,
				TerminationGracePeriodSeconds: &grace,
			},
		}
	}
	return out
}

// result is one plan's cost per scrape in one round, in milliseconds of CPU.
type result struct {
	Plan       string  `json:"plan"`
	Round      int     `json:"round"`
	Kubelet    float64 `json:"kubelet_ms"`
	Runtime    float64 `json:"runtime_ms"`
	Daemon     float64 `json:"daemon_ms"`
	Shims      float64 `json:"shims_ms"`
	Collector  float64 `json:"collector_ms"`
	Total      float64 `json:"node_ms"`
	DataPoints float64 `json:"datapoints"`
	// MinDataPoints is the fewest data points of a measured scrape.
	MinDataPoints int `json:"min_datapoints"`
	// Idle rates over the baseline window, millicores.
	KubeletIdle float64 `json:"kubelet_idle_mc"`
	RuntimeIdle float64 `json:"runtime_idle_mc"`
	Window      float64 `json:"window_s"`
}

// ticks is the node processes' CPU at one instant.
type ticks struct {
	at                     time.Time
	kubelet, daemon, shims time.Duration
}

func sample(k *kubeletenv.Env) (ticks, error) {
	kp, ok := k.PID()
	if !ok {
		return ticks{}, errors.New("no kubelet PID")
	}
	dp, ok := k.Containerd.DaemonPID()
	if !ok {
		return ticks{}, errors.New("no containerd PID")
	}
	t := ticks{at: time.Now()}
	var err error
	if t.kubelet, err = procCPU(kp); err != nil {
		return ticks{}, err
	}
	if t.daemon, err = procCPU(dp); err != nil {
		return ticks{}, err
	}
	for _, pid := range shims(k.Containerd.Socket) {
		c, err := procCPU(pid)
		if err == nil {
			t.shims += c
		}
	}
	return t, nil
}

// procCPU is a process's user and system time and that of the children it
// waited for (a shim's runc invocations), from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is the state (field 3); utime..cstime are fields 14-17.
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var sum int64
	for _, v := range f[11:15] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		sum += n
	}
	return time.Duration(sum) * clockTick, nil
}

// shims lists the shims of the containerd serving socket.
func shims(socket string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == socket {
			pid, _ := strconv.Atoi(filepath.Base(d))
			out = append(out, pid)
		}
	}
	return out
}

func measure(ctx context.Context, o options, k *kubeletenv.Env, plan string) (result, error) {
	// Baseline: the node without a scraper.
	b0, err := sample(k)
	if err != nil {
		return result{}, err
	}
	time.Sleep(o.baseline)
	b1, err := sample(k)
	if err != nil {
		return result{}, err
	}
	bw := b1.at.Sub(b0.at)
	idleK := rate(b1.kubelet-b0.kubelet, bw)
	idleD := rate(b1.daemon-b0.daemon, bw)
	idleS := rate(b1.shims-b0.shims, bw)

	args, cleanup, err := driverArgs(o, k, plan)
	if err != nil {
		return result{}, err
	}
	defer cleanup()
	cmd := exec.CommandContext(ctx, o.peer, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	var w0, w1 ticks
	var line []byte
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		switch l := sc.Text(); {
		case strings.HasPrefix(l, "window start"):
			if w0, err = sample(k); err != nil {
				_ = cmd.Process.Kill()
				return result{}, err
			}
		case strings.HasPrefix(l, "window end"):
			if w1, err = sample(k); err != nil {
				_ = cmd.Process.Kill()
				return result{}, err
			}
		case strings.HasPrefix(l, "{"):
			line = []byte(l)
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return result{}, fmt.Errorf("driver: %w", err)
	}
	if w0.at.IsZero() || w1.at.IsZero() || line == nil {
		return result{}, errors.New("driver: no window measured")
	}
	var d struct {
		CPU        float64 `json:"cpu_ms_per_scrape"`
		DataPoints float64 `json:"datapoints_per_scrape"`
		Min        int     `json:"min_datapoints"`
	}
	if err := json.Unmarshal(line, &d); err != nil {
		return result{}, fmt.Errorf("driver: %w", err)
	}
	ww := w1.at.Sub(w0.at)
	n := float64(o.scrapes)
	per := func(used time.Duration, idle float64) float64 {
		return (float64(used)/1e6 - idle*ww.Seconds()) / n // ms; idle in ms per second
	}
	res := result{
		Plan:          plan,
		Kubelet:       per(w1.kubelet-w0.kubelet, idleK),
		Daemon:        per(w1.daemon-w0.daemon, idleD),
		Shims:         per(w1.shims-w0.shims, idleS),
		Collector:     d.CPU,
		DataPoints:    d.DataPoints,
		MinDataPoints: d.Min,
		KubeletIdle:   idleK,
		RuntimeIdle:   idleD + idleS,
		Window:        ww.Seconds(),
	}
	res.Runtime = res.Daemon + res.Shims
	res.Total = res.Runtime + res.Collector
	if plan == "kubelet" {
		res.Total += res.Kubelet
	}
	return res, nil
}

// rate is CPU used over a window in milliseconds per second (millicores).
func rate(used, over time.Duration) float64 { return float64(used) / 1e6 / over.Seconds() }

// driverArgs are hack/peer's arguments for a plan.
func driverArgs(o options, k *kubeletenv.Env, plan string) ([]string, func(), error) {
	common := []string{"run", "-interval", o.interval.String(), "-warmup", "3", "-scrapes", strconv.Itoa(o.scrapes)}
	if plan == "kubelet" {
		return append(common, "-receiver", "kubeletstats", "-set", "auth_type=none", "-set", "endpoint="+k.URL), func() {}, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	cgroups := map[string]any{"pods_cgroup": k.PodsCgroup}
	if k.RuntimeCgroup != "" {
		cgroups["runtime_cgroup"] = k.RuntimeCgroup
	}
	if k.KubeletCgroup != "" {
		cgroups["kubelet_cgroup"] = k.KubeletCgroup
	}
	mode, every, err := planMode(plan, o.statsEvery)
	if err != nil {
		return nil, nil, err
	}
	// The same share of scrapes with the runtime's stats as the default 1m
	// at a 10 s interval (one in six) unless the plan says otherwise.
	statsInterval := time.Duration(0)
	if every > 0 {
		statsInterval = time.Duration(every)*o.interval - o.interval/2
	}
	cfg := map[string]any{
		"node_name": k.NodeName,
		"mode":      mode,
		"cri": map[string]any{
			"endpoint":       k.Containerd.Endpoint,
			"timeout":        o.criTimeout.String(),
			"pod_logs_dir":   k.PodLogsDir,
			"stats_interval": statsInterval.String(),
		},
		"cgroups": cgroups,
		"host":    map[string]any{"kubelet_root_dir": k.RootDir},
		"server":  map[string]any{"endpoint": net.JoinHostPort("127.0.0.1", strconv.Itoa(port))},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp("", "nodebench-*.yaml")
	if err != nil {
		return nil, nil, err
	}
	if _, err := f.Write(data); err != nil {
		return nil, nil, err
	}
	_ = f.Close()
	return append(common, "-receiver", "stats_summary", "-config", f.Name()), func() { _ = os.Remove(f.Name()) }, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func report(o options, node string, results []result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# hack/perf/nodebench, %s: %s\n", time.Now().UTC().Format(time.RFC3339), node)
	fmt.Fprintf(&b, "# %d round(s); per plan and round a %s idle baseline, then %d scrapes every %s; CPU ms per scrape, idle rate subtracted; median [range]\n\n",
		o.rounds, o.baseline, o.scrapes, o.interval)
	b.WriteString("| plan | kubelet | runtime (daemon + shims) | collector | node total | ÷ kubelet path | data points |\n|---|---|---|---|---|---|---|\n")
	kubeletTotal := median(pick(results, "kubelet", func(r result) float64 { return r.Total }))
	for _, plan := range o.plans {
		cell := func(f func(result) float64) string {
			v := pick(results, plan, f)
			if len(v) == 0 {
				return "—"
			}
			if len(v) == 1 {
				return fmt.Sprintf("%.1f", v[0])
			}
			return fmt.Sprintf("%.1f [%.1f–%.1f]", median(v), slices.Min(v), slices.Max(v))
		}
		name := "kubelet path (kubelet + kubeletstats)"
		kub := cell(func(r result) float64 { return r.Kubelet })
		if plan != "kubelet" {
			name = planLabel(plan, o.statsEvery)
			kub = "(" + kub + ")"
		}
		ratio := "—"
		if tot := median(pick(results, plan, func(r result) float64 { return r.Total })); kubeletTotal > 0 {
			ratio = fmt.Sprintf("%.2f", tot/kubeletTotal)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | **%s** | %s | %s |\n", name, kub,
			cell(func(r result) float64 { return r.Runtime }), cell(func(r result) float64 { return r.Collector }),
			cell(func(r result) float64 { return r.Total }), ratio, cell(func(r result) float64 { return r.DataPoints }))
	}
	b.WriteString("\n(Ours' kubelet column, in parentheses, is the kubelet's change while ours scraped: not part of ours' total.)\n")
	for _, r := range results {
		if float64(r.MinDataPoints) < 0.9*r.DataPoints {
			fmt.Fprintf(&b, "\n**Incomplete scrapes** (round %d, %s): a measured scrape carried %d data points, the mean %.0f — a source outlived its timeout; that run's cost is not the plan's.\n", r.Round, r.Plan, r.MinDataPoints, r.DataPoints)
		}
	}
	b.WriteString("\n# runs\n")
	for _, r := range results {
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	fmt.Print(b.String())
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(o.out, []byte(b.String()), 0o644)
}

func pick(rs []result, plan string, f func(result) float64) []float64 {
	var out []float64
	for _, r := range rs {
		if r.Plan == plan {
			out = append(out, f(r))
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// planMode splits a plan of ours, "mode" or "mode/N", into the mode and the
// scrapes per stats call of the identity plan (N; statsEvery without one; 0:
// the runtime's stats at every scrape).
func planMode(plan string, statsEvery int) (string, int, error) {
	mode, n, found := strings.Cut(plan, "/")
	if !found {
		return mode, statsEvery, nil
	}
	every, err := strconv.Atoi(n)
	if err != nil || every < 0 {
		return "", 0, fmt.Errorf("plan %q: want mode/N with N ≥ 0 scrapes per stats call", plan)
	}
	return mode, every, nil
}

// planLabel names a plan of ours in the report.
func planLabel(plan string, statsEvery int) string {
	mode, every, err := planMode(plan, statsEvery)
	switch {
	case err != nil:
		return plan
	case mode == "cri":
		return "ours, mode: cri"
	case every == 0:
		return "ours, mode: " + mode + ", the runtime's stats at every scrape"
	}
	return fmt.Sprintf("ours, mode: %s, the runtime's stats every %d scrapes", mode, every)
}
