package parity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/kubeletenv"
)

// dumpEnv names a directory to which the test writes the three Summaries it
// compared (kubelet-before.json, ours.json, kubelet-after.json), in a
// directory per run named after the stats path of ours (identity, strict).
const dumpEnv = "STATSSUMMARY_PARITY_DUMP"

// instance names the suite's kubelet and containerd instances (and so its
// bridge, ss-parity).
const instance = "parity"

func TestKubeletParity(t *testing.T) {
	// Never a skip: a missing kubelet, root or runtime is a failure that says
	// how to get it.
	require.NoError(t, containerdenv.CheckRoot())
	_, err := kubeletenv.Binary("")
	require.NoError(t, err)

	k, err := kubeletenv.Start(t.Context(), kubeletenv.Options{
		Name:                 instance,
		Pods:                 suitePods(),
		VolumeStatsAggPeriod: walkPeriod,
		Logf:                 t.Logf,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		require.NoError(t, k.Close(ctx))
	})
	t.Logf("kubelet on %s %s, %s cgroup driver, cgroup v2: %v", k.Containerd.RuntimeName, k.Containerd.RuntimeVersion, k.CgroupDriver, containerdenv.CgroupV2())

	checkRestarted(t, k)
	// The default config answers from identity between the runtime's stats
	// calls, pods' and containers' CPU and memory from their cgroups (the
	// identity plan); cri.stats_interval 0 asks the runtime for its stats at
	// every scrape, whose values are kept (kubernetes issue 107172). Both
	// are held to the same rules.
	for _, run := range []struct {
		name, statsInterval, path string
	}{
		{"identity answers (the default config)", "", "identity"},
		{"the runtime's stats at every scrape (cri.stats_interval 0s)", "0s", "strict"},
	} {
		t.Run(run.name, func(t *testing.T) {
			compareWithKubelet(t, k, startReceiver(t, k, run.statsInterval, run.path))
		})
	}
}

// compareWithKubelet reads one Summary of ours (through o.path) between two
// of the kubelet's and fails on every field outside its rule.
func compareWithKubelet(t *testing.T, k *kubeletenv.Env, o *ours) {
	waitComparable(t, k, o)

	// Our CPU rates span the time since our previous assembly: make that
	// about as long as the kubelet's cAdvisor housekeeping interval (10 s).
	o.summary(t)
	time.Sleep(10 * time.Second)

	facts := nodeFacts(t, k)
	t.Logf("node facts: %v", facts)
	active := applicable(rules, facts)
	r := read(t, k, o, active)
	findings, used := compare(r, active)
	var failed []string
	for _, f := range findings {
		mark := "ok  "
		if !f.ok {
			mark = "FAIL"
			failed = append(failed, fmt.Sprintf("%s: ours %s, kubelet %s: %s (%s)", f.path, orNone(f.ours), orNone(f.kube), f.reason, ruleName(f.rule)))
		}
		t.Logf("%s %-80s ours %-26s kubelet %-40s %s", mark, f.path, orNone(f.ours), orNone(f.kube), ruleName(f.rule))
	}
	for i, rl := range active {
		if !used[i] {
			t.Logf("rule %q (%s) matched no field on this node", rl.Field, rl.Kind)
		}
	}
	t.Logf("%d fields compared, %d outside their rule", len(findings), len(failed))
	if len(failed) > 0 {
		t.Errorf("fields where we differ from the kubelet beyond docs/kubelet-parity.md:\n%s", strings.Join(failed, "\n"))
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ruleName(r *Rule) string {
	if r == nil {
		return "equal"
	}
	return fmt.Sprintf("%s %s", r.Field, r.Kind)
}

// applicable returns the rules that hold on this node: those whose When
// names only facts of it.
func applicable(rs []Rule, facts map[string]bool) []Rule {
	var out []Rule
	for _, r := range rs {
		holds := true
		for _, w := range r.When {
			holds = holds && facts[w]
		}
		if holds {
			out = append(out, r)
		}
	}
	return out
}

// nodeFacts are the facts of this node rules can be conditioned on.
func nodeFacts(t *testing.T, k *kubeletenv.Env) map[string]bool {
	t.Helper()
	facts := map[string]bool{}
	if containerdenv.CgroupV2() {
		facts["cgroup v2"] = true
	} else {
		facts["cgroup v1"] = true
	}
	facts[string(k.CgroupDriver)+" driver"] = true
	v := strings.TrimPrefix(k.Containerd.RuntimeVersion, "v")
	major, _, _ := strings.Cut(v, ".")
	facts["containerd "+major+".x"] = true
	data, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "SwapTotal:" {
			if f[1] == "0" {
				facts["no swap"] = true
			} else {
				facts["swap"] = true
			}
		}
	}
	return facts
}

// checkRestarted waits until the kubelet has restarted the flaky container
// once and it runs again, and checks that the runtime's attempt of the running
// container is the kubelet's restart count.
func checkRestarted(t *testing.T, k *kubeletenv.Env) {
	t.Helper()
	name := k.PodName(podRestart)
	require.NoError(t, k.WaitPods(t.Context(), 2*time.Minute, "the flaky container restarted and running", func(pods []corev1.Pod) error {
		for i := range pods {
			if pods[i].Name != name {
				continue
			}
			if err := kubeletenv.PodRunning(&pods[i]); err != nil {
				return err
			}
			if n := pods[i].Status.ContainerStatuses[0].RestartCount; n < 1 {
				return fmt.Errorf("restart count %d", n)
			}
			return nil
		}
		return fmt.Errorf("pod %s not listed", name)
	}))
	p, err := k.Pod(t.Context(), name)
	require.NoError(t, err)
	st := p.Status.ContainerStatuses[0]
	require.Equal(t, int32(1), st.RestartCount, "the flaky container exits once")
	ctrs, err := k.Containerd.Runtime.ListContainers(t.Context(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(p.UID), "io.kubernetes.container.name": ctrRestart},
	}})
	require.NoError(t, err)
	var running, exited []*runtimeapi.Container
	for _, c := range ctrs.GetContainers() {
		switch c.GetState() {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			running = append(running, c)
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			exited = append(exited, c)
		}
	}
	require.Len(t, running, 1, "one running attempt of the flaky container")
	require.Equal(t, uint32(st.RestartCount), running[0].GetMetadata().GetAttempt(), "the running attempt is the kubelet's restart count")
	require.Equal(t, "containerd://"+running[0].GetId(), st.ContainerID, "the kubelet's container is the running attempt")
	require.NotEmpty(t, exited, "the exited first attempt stays in the runtime (the kubelet keeps one dead container), for both sides to leave out")
}

// waitComparable waits until both sides have seen the pods long enough to
// report every block: CPU rates, volumes (measured every walkPeriod),
// ephemeral storage and logs.
func waitComparable(t *testing.T, k *kubeletenv.Env, o *ours) {
	t.Helper()
	ready := func(side string, tr tree) error {
		var errs []error
		for _, p := range suitePods() {
			base := "pods[default/" + p.Name + "]"
			for _, c := range p.Spec.Containers {
				cb := base + ".containers[" + c.Name + "]"
				for _, f := range []string{".cpu.usageNanoCores", ".memory.workingSetBytes", ".rootfs.usedBytes", ".logs.usedBytes"} {
					if _, ok := tr[cb+f]; !ok {
						errs = append(errs, fmt.Errorf("%s: no %s%s", side, cb, f))
					}
				}
			}
			for _, v := range p.Spec.Volumes {
				if _, ok := tr[base+".volume["+v.Name+"].usedBytes"]; !ok {
					errs = append(errs, fmt.Errorf("%s: no %s.volume[%s]", side, base, v.Name))
				}
			}
			if _, ok := tr[base+".ephemeral-storage.usedBytes"]; !ok {
				errs = append(errs, fmt.Errorf("%s: no %s.ephemeral-storage", side, base))
			}
		}
		return errors.Join(errs...)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		kb, err := k.Summary(t.Context())
		require.NoError(t, err)
		kt, err := parseTree(kb, k.NodeName)
		require.NoError(t, err)
		ot, err := parseTree(o.summary(t), k.NodeName)
		require.NoError(t, err)
		err = errors.Join(ready("kubelet", kt), ready("ours", ot))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("both Summaries still lack blocks after 3 min:\n%v", err)
		}
		time.Sleep(2 * time.Second)
	}
}

// read takes the three readings of one comparison: the kubelet's, ours, then
// the kubelet's again until each of its sample times is past ours (its
// cAdvisor samples every 10 to 15 s), so that a counter of ours lies between
// two of the kubelet's, and until it reports the same blocks as ours (as the
// rules allow), for at most 45 s. The latter waits out the kubelet's habit of
// taking, now and then, an idle container for a terminated one
// (isContainerTerminated: cAdvisor's last sample of it without an
// instantaneous CPU figure), which it then reports with the runtime's values
// alone, and its pod without process count or network.
func read(t *testing.T, k *kubeletenv.Env, o *ours, rs []Rule) readings {
	t.Helper()
	get := func() ([]byte, tree) {
		b, err := k.Summary(t.Context())
		require.NoError(t, err)
		tr, err := parseTree(b, k.NodeName)
		require.NoError(t, err)
		return b, tr
	}
	kb1, before := get()
	ob := o.compared(t)
	ot, err := parseTree(ob, k.NodeName)
	require.NoError(t, err)
	var kb2 []byte
	var after tree
	var lagging, missing []string
	deadline := time.Now().Add(45 * time.Second)
	for {
		time.Sleep(time.Second)
		kb2, after = get()
		lagging = laggingTimes(ot, after)
		missing = presenceDiffs(readings{before, ot, after}, rs)
		if len(lagging)+len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(lagging) > 0 {
		t.Logf("kubelet sample times not past ours after 45 s (compared with its latest): %s", strings.Join(lagging, ", "))
	}
	if dir := os.Getenv(dumpEnv); dir != "" {
		dir = filepath.Join(dir, o.path) // one directory per run
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for name, b := range map[string][]byte{"kubelet-before.json": kb1, "ours.json": ob, "kubelet-after.json": kb2} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
	}
	return readings{before: before, ours: ot, after: after}
}

// presenceDiffs lists the fields one side reports and the other does not,
// beyond what the rules allow.
func presenceDiffs(r readings, rs []Rule) []string {
	fs, _ := compare(r, rs)
	var out []string
	for _, f := range fs {
		if !f.ok && (f.ours == "" || f.kube == "") {
			out = append(out, f.path)
		}
	}
	return out
}

// laggingTimes lists the sample times ("….time") both sides report where the
// kubelet's is not yet a whole second past ours (JSON times have second
// precision: only then was it surely sampled later).
func laggingTimes(ours, kube tree) []string {
	var out []string
	for p, v := range ours {
		if !strings.HasSuffix(p, ".time") {
			continue
		}
		kv, ok := kube[p]
		if !ok {
			continue
		}
		ot, ok1 := v.time()
		kt, ok2 := kv.time()
		if ok1 && ok2 && !kt.After(ot) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
