// Command devruntime runs a command against a private containerd with a few
// demo pods, and tears the runtime down when the command ends (Ctrl-C included).
// `make run` uses it when no container runtime is reachable; the steady-state
// measurement (hack/perf/steady-state.sh) uses it with many idle pods.
//
//	devruntime run [-name N] [-json URL] [-pods N [-containers M] [-parallel P]] [-demo=false] -- CMD [ARGS...]
//	    bring up, run CMD with CRI_ENDPOINT (and DEVRUNTIME_DIR) set, tear down
//	devruntime down [-name N]
//	    remove the instance and any whose owner died
//
// -pods adds N idle pods (namespace idle), each with its own network namespace
// on the instance's bridge and M containers sleeping; -demo=false leaves out
// the 4 demo pods, whose busy container would spin a core.
//
// It needs root, and the packages containerdenv.Packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/kubeletenv"
)

// defaultInstance names the demo's runtime; -name picks another (tests do).
const defaultInstance = "demo"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "devruntime: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: devruntime run [-name N] [-json URL] -- CMD [ARGS...] | devruntime down [-name N]")
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	switch args[0] {
	case "down":
		fs := flag.NewFlagSet("down", flag.ContinueOnError)
		name := fs.String("name", defaultInstance, "the instance to remove")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		// A kubelet instance (test/parity) first: its kubelet would restart
		// pods in the containerd instance it owns.
		if err := kubeletenv.CleanupStale(context.Background(), logf); err != nil {
			return err
		}
		if err := containerdenv.CleanupStale(context.Background(), logf); err != nil {
			return err
		}
		return containerdenv.Cleanup(context.Background(), filepath.Join(containerdenv.BaseDir, *name))
	case "run":
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		var o runOptions
		fs.StringVar(&o.jsonURL, "json", "", "the collector's JSON endpoint, to print")
		fs.StringVar(&o.name, "name", defaultInstance, "the instance's name")
		fs.BoolVar(&o.demo, "demo", true, "start the 4 demo pods")
		fs.IntVar(&o.idle.pods, "pods", 0, "idle pods to start besides the demo pods, each in its own network namespace")
		fs.IntVar(&o.idle.containers, "containers", 1, "containers per idle pod")
		fs.IntVar(&o.idle.parallel, "parallel", 4, "idle pods started at once")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return errors.New("usage: devruntime run [-name NAME] [-json URL] [-pods N [-containers M] [-parallel P]] [-demo=false] -- CMD [ARGS...]")
		}
		if err := o.check(); err != nil {
			return err
		}
		return runWithRuntime(o, fs.Args(), logf)
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// demoPods are a busy container, an idle one, a writer, and two pods with their
// own network namespaces exchanging traffic with each other only.
func demoPods(serverIP string) []containerdenv.PodSpec {
	if serverIP == "" {
		return []containerdenv.PodSpec{{
			Name: "net-server", Namespace: "demo",
			Containers: []containerdenv.ContainerSpec{{Name: "server", Command: "while :; do nc -l -p 8080 >/dev/null; done"}},
		}}
	}
	return []containerdenv.PodSpec{
		{Name: "busy", Namespace: "demo", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
			{Name: "spin", Command: "while :; do :; done"},
			{Name: "idle", Command: "exec sleep 2147483647"},
		}},
		{Name: "writer", Namespace: "demo", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
			{Name: "writer", Command: "head -c 33554432 /dev/zero > /dev/shm/blob; head -c 8388608 /dev/zero > /blob; while :; do echo hello from writer; sleep 5; done"},
		}},
		{Name: "net-client", Namespace: "demo", Containers: []containerdenv.ContainerSpec{
			{Name: "client", Command: "while :; do head -c 1048576 /dev/zero | nc -w 2 " + serverIP + " 8080; sleep 1; done"},
		}},
	}
}

// runOptions are the flags of devruntime run.
type runOptions struct {
	name, jsonURL string
	demo          bool
	idle          idleOptions
}

// demoNetnsPods is how many demo pods have their own network namespace.
const demoNetnsPods = 2

func (o runOptions) check() error {
	if err := o.idle.check(); err != nil {
		return err
	}
	room, demo := containerdenv.PodSubnetAddresses, ""
	if o.demo {
		room -= demoNetnsPods
		demo = fmt.Sprintf(", %d of them taken by the demo pods (-demo=false leaves them out)", demoNetnsPods)
	}
	if o.idle.pods > room {
		return fmt.Errorf("-pods %d: the bridge's subnet %s has addresses for %d pods with their own network namespace%s",
			o.idle.pods, containerdenv.PodSubnet, containerdenv.PodSubnetAddresses, demo)
	}
	return nil
}

func runWithRuntime(o runOptions, cmdArgs []string, logf func(string, ...any)) (err error) {
	// Ctrl-C reaches the whole foreground group: the command stops itself; this
	// process only waits for it and then tears the runtime down.
	signal.Ignore(syscall.SIGINT)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	began := time.Now()
	env, err := containerdenv.Start(ctx, containerdenv.Options{Name: o.name, Logf: logf})
	if err != nil {
		return err
	}
	defer func() {
		logf("devruntime: tearing down %s", env.Dir)
		began := time.Now()
		if cerr := env.Close(context.Background()); cerr != nil {
			err = errors.Join(err, cerr)
		} else {
			logf("devruntime: runtime removed in %s", time.Since(began).Round(time.Millisecond))
		}
	}()
	var pods, logs []string
	if o.demo {
		server, err := env.RunPod(ctx, demoPods("")[0])
		if err != nil {
			return err
		}
		for _, spec := range demoPods(server.IP) {
			if _, err := env.RunPod(ctx, spec); err != nil {
				return err
			}
		}
		pods = append(pods, "4 demo pods (namespace demo)")
		logs = append(logs, filepath.Join(containerdenv.PodLogsDir, "demo_*"))
	}
	if o.idle.pods > 0 {
		took, err := startIdlePods(ctx, env, o.idle)
		if err != nil {
			return err
		}
		logf("devruntime: %s started in %s (%d at once)", o.idle, took.Round(time.Millisecond), o.idle.parallel)
		pods = append(pods, fmt.Sprintf("%s (namespace %s)", o.idle, idleNamespace))
		logs = append(logs, filepath.Join(containerdenv.PodLogsDir, idleNamespace+"_*"))
	}
	if len(pods) == 0 {
		pods, logs = append(pods, "no pods"), append(logs, containerdenv.PodLogsDir)
	}
	logf("\ndevruntime: private containerd %s with %s ready in %s", env.Endpoint, strings.Join(pods, " and "), time.Since(began).Round(time.Millisecond))
	logf("devruntime: containerd log: %s; pod logs: %s", filepath.Join(env.Dir, "containerd.log"), strings.Join(logs, " "))
	if o.jsonURL != "" {
		// The command is the collector (make run).
		logf("devruntime: the Summary as JSON: curl -s %s", o.jsonURL)
		logf("devruntime: the debug exporter prints each scrape below (DEBUG_VERBOSITY=detailed shows every value); Ctrl-C stops and tears down\n")
	}

	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "CRI_ENDPOINT="+env.Endpoint, "DEVRUNTIME_DIR="+env.Dir)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		// Stopped by Ctrl-C: a normal end of the demo.
		if errors.As(err, &exit) && (exit.ExitCode() == 130 || !exit.Exited()) {
			return nil
		}
		return fmt.Errorf("%s: %w", cmdArgs[0], err)
	}
	return nil
}
