// Command peer drives one metrics receiver through its factory, as a
// collector does, and reports what the receiver's own process paid per
// scrape: `peer run` for kubeletstats v0.164.1 (the peer, which reads a
// kubelet's /stats/summary) or stats_summary (ours, which reads a CRI
// runtime); `peer serve` serves a Summary JSON file as a kubelet's read-only
// port does, for kubeletstats to read from another process.
//
// It is a module of its own (hack/peer/go.mod) because kubeletstats is a
// test-only giant that never enters the product's go.mod; both receivers are
// built into one binary so that they run under the same driver, host and
// consumer. make bench-peer (hack/perf/peer.sh) and make bench-node
// (hack/perf/nodebench) run it.
//
// `peer run` creates the receiver, lets it scrape every -interval, and after
// -warmup scrapes measures the next -scrapes: the process's CPU time
// (getrusage: every goroutine, the garbage collector's too), heap bytes and
// objects allocated (runtime/metrics), data points and resources consumed.
// It prints "window start <unix ns>" and "window end <unix ns>" as the
// window opens and closes (a harness measuring other processes over the same
// window reads them), then one JSON line of results. With -peer-metrics
// (the default) stats_summary emits exactly the metrics kubeletstats emits by
// default, read from kubeletstats' own default configuration, so both
// produce the same metric set.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "table":
		err = table(os.Stdout, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: peer run -receiver kubeletstats|stats_summary [-config FILE] [-set key=value]... [-interval 1s] [-warmup 3] [-scrapes 20]
       peer serve -file SUMMARY.json [-addr 127.0.0.1:0]
       peer table RUNS.jsonl`)
	os.Exit(2)
}

// Result is what `peer run` prints, one JSON line.
type Result struct {
	Receiver string `json:"receiver"`
	Scrapes  int    `json:"scrapes"`
	// WindowSeconds is the window's wall time, from the end of the last
	// warm-up scrape to the end of the last measured one.
	WindowSeconds float64 `json:"window_s"`
	// CPUPerScrape is the process's CPU time over the window divided by the
	// scrapes, in milliseconds.
	CPUPerScrape        float64 `json:"cpu_ms_per_scrape"`
	DataPointsPerScrape float64 `json:"datapoints_per_scrape"`
	// MinDataPoints is the fewest data points a measured scrape carried: well
	// under the mean, some scrapes were partial (a source timed out).
	MinDataPoints      int     `json:"min_datapoints"`
	ResourcesPerScrape float64 `json:"resources_per_scrape"`
	BytesPerDataPoint  float64 `json:"bytes_per_datapoint"`
	AllocsPerDataPoint float64 `json:"allocs_per_datapoint"`
	CPUPerDataPoint    float64 `json:"cpu_ns_per_datapoint"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	name := fs.String("receiver", "", "kubeletstats or stats_summary")
	configFile := fs.String("config", "", "the receiver's configuration (YAML), over its defaults")
	var sets multiFlag
	fs.Var(&sets, "set", "key=value (dotted key, YAML value) over the configuration; repeatable")
	interval := fs.Duration("interval", time.Second, "collection_interval")
	warmup := fs.Int("warmup", 3, "scrapes before the window")
	scrapes := fs.Int("scrapes", 20, "scrapes measured")
	peerMetrics := fs.Bool("peer-metrics", true, "stats_summary: enable exactly kubeletstats' default metrics")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	save := fs.String("save-summary", "", "stats_summary: after the window, save the Summary its JSON endpoint serves (on a free loopback port) to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the window to this file (the profiler's own signals are counted in cpu_ms_per_scrape, more so the longer the interval: use it to see where the CPU goes, not how much)")
	memProfile := fs.String("memprofile", "", "write heap profiles as the window opens (FILE.base) and closes (FILE): go tool pprof -sample_index=alloc_objects -base FILE.base shows the window's allocations")
	dump := fs.Bool("dump", false, "print each metric's data points in the last scrape to stderr")
	_ = fs.Parse(args)
	if *scrapes < 1 || *warmup < 1 {
		return errors.New("-scrapes and -warmup must be at least 1")
	}

	var f receiver.Factory
	switch *name {
	case "kubeletstats":
		f = kubeletstatsreceiver.NewFactory()
	case "stats_summary":
		f = statssummaryreceiver.NewFactory()
	default:
		return fmt.Errorf("-receiver %q: want kubeletstats or stats_summary", *name)
	}
	cfg := f.CreateDefaultConfig()
	conf := map[string]any{}
	if *name == "stats_summary" && *peerMetrics {
		m, err := peerMetricSet(cfg)
		if err != nil {
			return err
		}
		conf["metrics"] = m
	}
	if *configFile != "" {
		data, err := os.ReadFile(*configFile)
		if err != nil {
			return err
		}
		var fromFile map[string]any
		if err := yaml.Unmarshal(data, &fromFile); err != nil {
			return fmt.Errorf("%s: %w", *configFile, err)
		}
		merge(conf, fromFile)
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("-set %q: want key=value", s)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return fmt.Errorf("-set %q: %w", s, err)
		}
		merge(conf, nested(strings.Split(k, "."), val))
	}
	merge(conf, map[string]any{"collection_interval": interval.String(), "initial_delay": "0s"})
	if *save != "" {
		// The Summary is read from the JSON endpoint: give it a known port.
		port, err := freePort()
		if err != nil {
			return err
		}
		merge(conf, map[string]any{"server": map[string]any{"endpoint": net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}})
	}
	if err := confmap.NewFromStringMap(conf).Unmarshal(cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := confmap.Validate(cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}

	w := &window{warmup: *warmup, scrapes: *scrapes, done: make(chan struct{}), dump: *dump}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		w.onStart = func() { _ = pprof.StartCPUProfile(f) }
		w.onEnd = pprof.StopCPUProfile
	}
	if *memProfile != "" {
		start, end := w.onStart, w.onEnd
		w.onStart = func() {
			writeHeapProfile(*memProfile + ".base")
			if start != nil {
				start()
			}
		}
		w.onEnd = func() {
			if end != nil {
				end()
			}
			writeHeapProfile(*memProfile)
		}
	}
	next, err := consumer.NewMetrics(w.consume)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	rcv, err := f.CreateMetrics(ctx, receivertest.NewNopSettings(f.Type()), cfg, next)
	if err != nil {
		return err
	}
	if err := rcv.Start(ctx, componenttest.NewNopHost()); err != nil {
		return err
	}
	select {
	case <-w.done:
	case <-ctx.Done():
	case <-time.After(*timeout):
	}
	var saveErr error
	if *save != "" {
		saveErr = saveSummary(cfg, *save)
	}
	shutdownErr := rcv.Shutdown(context.Background())
	if saveErr != nil {
		return saveErr
	}
	res, err := w.result(*name)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return err
	}
	return shutdownErr
}

// window measures the scrapes after the warm-up. Consume calls come from the
// receiver's one scrape goroutine, one a scrape.
type window struct {
	warmup, scrapes int

	mu          sync.Mutex
	seen        int
	dps, res    int
	minDPs      int
	start, end  sample
	done        chan struct{}
	emptyScrape bool
	dump        bool
	// onStart and onEnd, when set, run as the window opens and closes.
	onStart, onEnd func()
}

// sample is the process's counters at one instant.
type sample struct {
	at             time.Time
	cpu            time.Duration
	bytes, objects uint64
}

func (w *window) consume(_ context.Context, md pmetric.Metrics) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen++
	switch {
	case w.seen == w.warmup:
		if w.onStart != nil {
			w.onStart()
		}
		w.start = now()
		fmt.Printf("window start %d\n", w.start.at.UnixNano())
	case w.seen > w.warmup && w.seen <= w.warmup+w.scrapes:
		// Counted once: a count walks every metric, and the walk is the
		// driver's cost, not the receiver's.
		dps := md.DataPointCount()
		w.dps += dps
		w.res += md.ResourceMetrics().Len()
		if dps == 0 {
			w.emptyScrape = true
		}
		if w.minDPs == 0 || dps < w.minDPs {
			w.minDPs = dps
		}
		if w.seen == w.warmup+w.scrapes {
			w.end = now()
			if w.onEnd != nil {
				w.onEnd()
			}
			if w.dump {
				dumpCounts(md)
			}
			fmt.Printf("window end %d\n", w.end.at.UnixNano())
			close(w.done)
		}
	}
	return nil
}

// writeHeapProfile writes the heap profile (allocations since the process
// started) to file; a failure is reported, not fatal.
func writeHeapProfile(file string) {
	f, err := os.Create(file)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer: -memprofile:", err)
	}
}

// saveSummary saves what stats_summary's JSON endpoint serves now.
func saveSummary(cfg component.Config, file string) error {
	conf := confmap.New()
	if err := conf.Marshal(cfg); err != nil {
		return err
	}
	ep, _ := conf.Get("server::endpoint").(string)
	if ep == "" {
		return errors.New("-save-summary: no server.endpoint")
	}
	resp, err := http.Get("http://" + ep + "/stats/summary")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/stats/summary: %s: %s", ep, resp.Status, body)
	}
	return os.WriteFile(file, body, 0o644)
}

// dumpCounts prints each metric's data points, by name, to stderr.
func dumpCounts(md pmetric.Metrics) {
	counts := map[string]int{}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				counts[m.Name()] += dataPoints(m)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(os.Stderr, "%s %d\n", name, counts[name])
	}
}

func dataPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	}
	return 0
}

func (w *window) result(name string) (Result, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.end.at.IsZero() {
		return Result{}, fmt.Errorf("%s: %d scrapes consumed, %d wanted", name, w.seen, w.warmup+w.scrapes)
	}
	if w.emptyScrape {
		return Result{}, fmt.Errorf("%s: a measured scrape carried no data point", name)
	}
	n := float64(w.scrapes)
	cpu := float64(w.end.cpu - w.start.cpu)
	dps := float64(w.dps)
	return Result{
		Receiver:            name,
		Scrapes:             w.scrapes,
		WindowSeconds:       w.end.at.Sub(w.start.at).Seconds(),
		CPUPerScrape:        cpu / n / 1e6,
		DataPointsPerScrape: dps / n,
		MinDataPoints:       w.minDPs,
		ResourcesPerScrape:  float64(w.res) / n,
		BytesPerDataPoint:   float64(w.end.bytes-w.start.bytes) / dps,
		AllocsPerDataPoint:  float64(w.end.objects-w.start.objects) / dps,
		CPUPerDataPoint:     cpu / dps,
	}, nil
}

func now() sample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	ms := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(ms)
	return sample{
		at:      time.Now(),
		cpu:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		bytes:   ms[0].Value.Uint64(),
		objects: ms[1].Value.Uint64(),
	}
}

// peerMetricSet is a "metrics" section for stats_summary's configuration
// that enables exactly the metrics kubeletstats enables by default: each of
// ours is on when kubeletstats has it on, off otherwise.
func peerMetricSet(ours component.Config) (map[string]any, error) {
	peer, err := metricsEnabled(kubeletstatsreceiver.NewFactory().CreateDefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("kubeletstats' defaults: %w", err)
	}
	own, err := metricsEnabled(ours)
	if err != nil {
		return nil, fmt.Errorf("stats_summary's defaults: %w", err)
	}
	out := map[string]any{}
	on := 0
	for name := range own {
		out[name] = map[string]any{"enabled": peer[name]}
		if peer[name] {
			on++
		}
	}
	for name, enabled := range peer {
		if _, ok := own[name]; enabled && !ok {
			return nil, fmt.Errorf("kubeletstats enables %s by default; stats_summary has no such metric", name)
		}
	}
	if on == 0 {
		return nil, errors.New("no metric of kubeletstats' defaults found in stats_summary's")
	}
	return out, nil
}

// metricsEnabled reads a receiver configuration's "metrics" section: each
// metric's name and whether it is enabled.
func metricsEnabled(cfg component.Config) (map[string]bool, error) {
	conf := confmap.New()
	if err := conf.Marshal(cfg); err != nil {
		return nil, err
	}
	section, ok := conf.ToStringMap()["metrics"].(map[string]any)
	if !ok {
		return nil, errors.New("no metrics section")
	}
	out := make(map[string]bool, len(section))
	for name, v := range section {
		m, _ := v.(map[string]any)
		enabled, ok := m["enabled"].(bool)
		if !ok {
			return nil, fmt.Errorf("metric %s: no enabled flag", name)
		}
		out[name] = enabled
	}
	return out, nil
}

// nested turns a.b.c = v into {a: {b: {c: v}}}.
func nested(keys []string, v any) map[string]any {
	m := map[string]any{keys[len(keys)-1]: v}
	for i := len(keys) - 2; i >= 0; i-- {
		m = map[string]any{keys[i]: m}
	}
	return m
}

// merge copies src into dst, map into map, src winning.
func merge(dst, src map[string]any) {
	for k, v := range src {
		sm, ok := v.(map[string]any)
		dm, ok2 := dst[k].(map[string]any)
		if ok && ok2 {
			merge(dm, sm)
			continue
		}
		dst[k] = v
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// runLine is one line of the file `peer table` reads: a Result with the node
// size and round hack/perf/peer.sh adds.
type runLine struct {
	Result
	Size  string `json:"size"`
	Round int    `json:"round"`
}

// table prints, from `peer run` results, one Markdown row per node size:
// the medians over rounds of ours and kubeletstats side by side, and ours ÷
// peer as the ratio of the two medians followed, with several rounds, by the
// lowest and highest ratio of a single round (ours and the peer of the same
// round, minutes apart at most). It fails when, at some size, the two emitted
// different data points per scrape: the comparison holds only for the same
// metrics of the same node.
func table(out io.Writer, args []string) error {
	if len(args) != 1 {
		usage()
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var runs []runLine
	var sizes []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var r runLine
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		runs = append(runs, r)
		if !slices.Contains(sizes, r.Size) {
			sizes = append(sizes, r.Size)
		}
	}
	med := func(size, receiver string, f func(Result) float64) float64 {
		var v []float64
		for _, r := range runs {
			if r.Size == size && r.Receiver == receiver {
				v = append(v, f(r.Result))
			}
		}
		if len(v) == 0 {
			return math.NaN()
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	cpu := func(r Result) float64 { return r.CPUPerScrape }
	dps := func(r Result) float64 { return r.DataPointsPerScrape }
	bytes := func(r Result) float64 { return r.BytesPerDataPoint }
	allocs := func(r Result) float64 { return r.AllocsPerDataPoint }
	fmt.Fprintln(out, "| pods × containers | data points (ours / peer) | ours CPU ms/scrape | kubeletstats CPU ms/scrape | ours ÷ peer (single rounds) | ours B / allocs per point | peer B / allocs per point |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
	var differ []string
	for _, size := range sizes {
		o, p := med(size, ours, cpu), med(size, peer, cpu)
		fmt.Fprintf(out, "| %s | %.0f / %.0f | %.1f | %.1f | **%.2f**%s | %.0f / %.1f | %.0f / %.1f |\n",
			strings.Replace(size, "x", " × ", 1), med(size, ours, dps), med(size, peer, dps), o, p, o/p, roundRange(runs, size),
			med(size, ours, bytes), med(size, ours, allocs), med(size, peer, bytes), med(size, peer, allocs))
		if med(size, ours, dps) != med(size, peer, dps) {
			differ = append(differ, size)
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("ours and kubeletstats emitted different data points per scrape at %s", strings.Join(differ, ", "))
	}
	return nil
}

// The receivers' names in `peer run` results.
const ours, peer = "stats_summary", "kubeletstats"

// roundRange is " (lo–hi)": the lowest and highest ours ÷ peer of a single
// round at size, over the rounds that measured both; empty with fewer than
// two such rounds.
func roundRange(runs []runLine, size string) string {
	type pair struct{ ours, peer float64 }
	byRound := map[int]pair{}
	for _, r := range runs {
		if r.Size != size {
			continue
		}
		p := byRound[r.Round]
		switch r.Receiver {
		case ours:
			p.ours = r.CPUPerScrape
		case peer:
			p.peer = r.CPUPerScrape
		}
		byRound[r.Round] = p
	}
	var ratios []float64
	for _, p := range byRound {
		if p.ours > 0 && p.peer > 0 {
			ratios = append(ratios, p.ours/p.peer)
		}
	}
	if len(ratios) < 2 {
		return ""
	}
	return fmt.Sprintf(" (%.2f–%.2f)", slices.Min(ratios), slices.Max(ratios))
}

// sampleTime matches a Summary's sample times (metav1.Time is RFC 3339).
var sampleTime = regexp.MustCompile(`"time":\s*"[^"]*"`)

// serve answers /stats/summary with a file's Summary, as a kubelet's
// read-only port does, and prints the address it listens on.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	file := fs.String("file", "", "Summary JSON to serve")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	_ = fs.Parse(args)
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	mux := http.NewServeMux()
	// Every sample time is the time of the request, as a kubelet's are
	// recent: kubeletstats computes CPU usage from the change of the CPU
	// time between two samples and emits none when the time stands still.
	parts := sampleTime.Split(string(body), -1)
	mux.HandleFunc("GET /stats/summary", func(w http.ResponseWriter, _ *http.Request) {
		at := `"time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"`
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, strings.Join(parts, at))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
