package parity

// Kind is how a field is compared.
type Kind string

const (
	// Equal: the same value (the default for a field no rule names).
	Equal Kind = "equal"
	// Counter: a cumulative value, within the kubelet's reading just before
	// ours and its first reading sampled after ours, widened by the
	// tolerance (below the latter only, when the kubelet's first reading
	// lacked the field).
	Counter Kind = "counter"
	// Gauge: within the span of those two kubelet readings, widened by the
	// tolerance.
	Gauge Kind = "gauge"
	// Time: a sample time, within the span of the kubelet's two readings
	// widened by Abs seconds (not after the latter, when the first lacked
	// the field).
	Time Kind = "time"
	// OursOnly: we report the field (or block), the kubelet does not.
	OursOnly Kind = "ours only"
	// KubeletOnly: the kubelet reports the field (or block), we do not.
	KubeletOnly Kind = "kubelet only"
	// KubeletZero: the kubelet reports zeros (every number of the field or
	// block is 0 in both its readings) where it has no data; ours is not
	// compared (we report the real value or nothing).
	KubeletZero Kind = "kubelet zero"
	// Differs: both report it and the values differ on purpose; not compared.
	Differs Kind = "differs"
	// Transient: something of the shared machine that comes and goes
	// between the readings; either side may report it, and it is not
	// compared.
	Transient Kind = "transient"
)

// wholeBlock tells whether a rule of this kind decides a block with all it
// holds (its children get no rule of their own).
func (k Kind) wholeBlock() bool {
	return k == OursOnly || k == KubeletOnly || k == KubeletZero || k == Differs || k == Transient
}

// Rule says how the fields a path pattern matches are compared (see
// matchPath for the patterns). The first rule matching a field applies; a
// field no rule matches must be equal on both sides. rules is the one source
// of docs/kubelet-parity.md's table (TestDocListsTheRules).
type Rule struct {
	Field string
	Kind  Kind
	// Rel is a relative tolerance (0.1 = 10 % of the kubelet's value), Abs
	// an absolute one in the field's unit (seconds for times).
	Rel, Abs float64
	// Unit is Abs's unit, for the doc ("B", "ns", "nanocores", …).
	Unit string
	// Scale, when set, is what the kubelet's value is multiplied by before a
	// counter or gauge is compared with ours (1000: the kubelet's
	// microseconds against our nanoseconds).
	Scale float64
	// When lists the facts of the node the rule holds on ("cgroup v1",
	// "cgroup v2", "cgroupfs driver", "systemd driver", "containerd 1.x",
	// "containerd 2.x", "swap", "no swap"); empty is
	// every node.
	When []string
	// Why says why the field may differ, or why by that much.
	Why string
}

// MiB is a mebibyte, for tolerances.
const MiB = 1 << 20

// rules: the differences on purpose first, then the tolerances of values the
// two sides sample at different moments.
var rules = []Rule{
	// Differences on purpose.
	{
		Field: "**.psi", Kind: KubeletZero, When: []string{"cgroup v1"},
		Why: "Cgroup v1 has no PSI. The kubelet (KubeletPSI) stamps a psi block of zeros on the node, system containers, pods and containers; " +
			"we leave pods and containers without one and report the node's from the kernel's /proc/pressure files.",
	},
	{
		Field: "**.psi.*.total", Kind: Counter, Scale: 1000, When: []string{"cgroup v2"},
		Why: "PSI totals: the kubelet's cAdvisor path serves the cgroup files' microseconds (its container values replace the runtime's, kubernetes issue 107172), " +
			"ours are nanoseconds at every level (see PSI units): ours is 1000 × the kubelet's.",
	},
	{
		Field: "**.psi.*.avg*", Kind: Gauge, Abs: 10, Unit: "percentage points", When: []string{"cgroup v2"},
		Why: "PSI averages (percent of time stalled over 10, 60, 300 s) move between the readings.",
	},
	{
		Field: "**.io", Kind: KubeletZero, When: []string{"cgroup v1"},
		Why: "An io block holds only PSI: the kubelet's are zeros on cgroup v1 (see psi); we report one only where there is PSI (the node).",
	},
	{
		Field: "**.swap", Kind: KubeletOnly, When: []string{"no swap"},
		Why: "A node without swap: the kubelet stamps swap blocks on the node, system containers, pods and containers — zeros, " +
			"or for a container with a memory limit on cgroup v1 a swapAvailableBytes cAdvisor derives from the cgroup's limits (64 MiB for busy) — " +
			"we report swap only where the runtime or the host has some.",
	},
	{
		Field: "pods[*].memory.pageFaults", Kind: KubeletZero, When: []string{"cgroup v1"},
		Why: "The kubelet takes a pod's page faults from cAdvisor's pgfault of the pod cgroup, which on cgroup v1 counts only the tasks of that cgroup itself " +
			"(none: they are in the containers' cgroups), so 0; we report the runtime's pod value (containerd 2.x: the pod cgroup's total_pgfault) " +
			"or the sum of the containers'.",
	},
	{
		Field: "pods[*].memory.majorPageFaults", Kind: KubeletZero, When: []string{"cgroup v1"},
		Why: "As pageFaults: the kubelet's is the pod cgroup's own count, 0 on cgroup v1.",
	},
	{
		Field: "pods[default/" + podIdle + "].network", Kind: KubeletOnly,
		Why: "A host-network pod: the kubelet reports the node's interfaces as the pod's (cAdvisor reads the sandbox's network namespace, the host's); " +
			"we report no pod network, its traffic being the node's.",
	},

	{
		Field: "node.systemContainers[kubelet]", Kind: KubeletOnly, When: []string{"systemd driver"},
		Why: "The kubelet reports the cgroup it runs in as its system container; we report one only where cgroups.kubelet_cgroup names it " +
			"(the suite names it with the cgroupfs driver, where it makes the kubelet's cgroup; with the systemd driver cgroups are systemd's to make).",
	},
	{
		Field: "node.systemContainers[runtime]", Kind: OursOnly, When: []string{"systemd driver"},
		Why: "Without --runtime-cgroups the kubelet reports no runtime system container; we find the cgroup of the containerd process " +
			"(with the systemd driver the suite leaves containerd in the cgroup it was started in).",
	},
	{
		Field: "node.systemContainers[kubelet].startTime", Kind: Time, Abs: 5,
		Why: "The kubelet gives its own system container its process's start time; we give every system container its cgroup's creation time " +
			"(here made just before the kubelet starts, as a service manager makes a service's).",
	},

	// The shared machine.
	{
		Field: "node.network.interfaces[ss-" + instance + "]", Kind: Equal,
		Why: "The instance's own bridge: compared as every interface (the rules below).",
	},
	{
		Field: "node.network.interfaces[ss-*]", Kind: Transient,
		Why: "Bridges of other tests' runtimes on this shared machine (containerdenv names them ss-<instance>) come and go between the readings.",
	},

	// Values both sides sample, each at its own moment.
	{
		Field: "**.time", Kind: Time, Abs: 30,
		Why: "Sample times: the kubelet's cAdvisor samples every 10–15 s and measures volumes every 10 s; ours are the request's, or the last walk's for volumes and logs. " +
			"The kubelet's container CPU and memory are cAdvisor's, which replace the runtime's (kubernetes issue 107172); ours are the cgroups' in an identity answer " +
			"(the default config between the runtime's stats calls, cri.stats_interval) and the runtime's, kept, when it was asked for its stats (the suite compares both): " +
			"every one reads the same cgroup, so the values agree within the tolerances below and only the sample times differ.",
	},
	{
		Field: "**.usageNanoCores", Kind: Gauge, Rel: 0.25, Abs: 2e7, Unit: "nanocores",
		Why: "A rate over each side's own window (the kubelet's last two cAdvisor samples, 10–15 s apart; ours since our previous assembly, about 10 s) on a shared 2-core machine.",
	},
	{Field: "**.usageCoreNanoSeconds", Kind: Counter, Why: "Cumulative CPU time: between the kubelet's reading before ours and its reading sampled after ours."},
	{Field: "**.pageFaults", Kind: Counter, Why: "Cumulative."},
	{Field: "**.majorPageFaults", Kind: Counter, Why: "Cumulative."},
	{Field: "**.rxBytes", Kind: Counter, Why: "Cumulative."},
	{Field: "**.txBytes", Kind: Counter, Why: "Cumulative."},
	{Field: "**.rxErrors", Kind: Counter, Why: "Cumulative."},
	{Field: "**.txErrors", Kind: Counter, Why: "Cumulative."},
	{
		Field: "node.memory.*Bytes", Kind: Gauge, Rel: 0.05, Abs: 256 * MiB, Unit: "B",
		Why: "The node's memory moves with everything else on the machine (other builds and tests) between the readings.",
	},
	{
		Field: "node.systemContainers[runtime].memory.*Bytes", Kind: Gauge, Rel: 0.05, Abs: 16 * MiB, Unit: "B",
		Why: "The runtime's cgroup holds containerd, a Go daemon serving both sides' calls: its heap moves by megabytes at a garbage collection, " +
			"and the kubelet's reading is its cAdvisor's housekeeping, up to 15 s before ours (seen: 44.1 MB ours, 48.4–48.6 MB the kubelet's).",
	},
	{
		Field: "node.systemContainers[kubelet].memory.*Bytes", Kind: Gauge, Rel: 0.05, Abs: 16 * MiB, Unit: "B",
		Why: "As the runtime's: the kubelet is a Go daemon too.",
	},
	{
		Field: "**.memory.*Bytes", Kind: Gauge, Rel: 0.05, Abs: 1 * MiB, Unit: "B",
		Why: "A cgroup's memory moves a little between the readings (a ping, a shell loop, page cache).",
	},
	{
		Field: "**.swap.*Bytes", Kind: Gauge, Rel: 0.05, Abs: 1 * MiB, Unit: "B", When: []string{"swap"},
		Why: "As memory, on a node with swap.",
	},
	{
		Field: "**.availableBytes", Kind: Gauge, Rel: 0.01,
		Why: "Free space of the node's disk, shared with other builds and tests, moves between the readings.",
	},
	{Field: "**.inodesFree", Kind: Gauge, Rel: 0.01, Why: "As availableBytes."},
	{Field: "node.fs.usedBytes", Kind: Gauge, Rel: 0.01, Why: "As availableBytes: the whole disk's use."},
	{Field: "node.fs.inodesUsed", Kind: Gauge, Rel: 0.01, Why: "As availableBytes: the whole disk's use."},
	{
		Field: "pods[*].process_stats.process_count", Kind: Gauge, Abs: 1, Unit: "process",
		Why: "The pinging pod starts a short-lived ping every second: its count moves by one between the readings.",
	},
	{Field: "node.rlimit.curproc", Kind: Gauge, Abs: 100, Unit: "processes", Why: "The machine's process count moves between the readings."},
}
