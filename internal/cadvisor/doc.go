// Package cadvisor owns the cgroup side of the Summary: it reads the node's root
// cgroup, the system containers and the pod cgroups (and, in the cadvisor
// provider mode, the container cgroups) and turns each sample into Summary
// blocks (CPU with nano cores, memory, swap, process counts, PSI, network of
// the root network namespace and of each pod's). Every cgroup, the root
// included, is read from the four or five files the Summary takes from it,
// with the rules of cAdvisor's libcontainer stats handler (lean.go) — the
// handler reads every file of every controller, which on a node whose pod
// cgroups are read at every scrape was a third of the collector's CPU, and
// for the root alone 0.65 ms a housekeeping on a cgroup v1 host. The handler
// remains where a controller the lean read needs is not mounted, and for the
// root where its lean read fails. The files housekeeping reads at every
// scrape — those, each cgroup's cgroup.procs, the containers' memory limits,
// the host's /proc files for the node — stay open between housekeepings and
// are read again with pread (internal/keptfile; cgroup v1's cgroup.procs is opened
// anew when read again within two seconds, as the kernel serves a descriptor
// its old process list for a second). Housekeeping is aligned with collection: an assembly asks for
// a snapshot no older than a bound, and the cgroups are read then, while the
// runtime is asked for its stats, so pod and container values describe the
// same moment.
//
// It embeds the cAdvisor library without its manager: the manager's per-cgroup
// housekeeping goroutines and inotify watcher outlive Manager.Stop, and it
// registers its handler factories in process-wide state. Reading the same
// handler directly keeps the tracked set to what a Summary needs and runs no
// goroutine at all.
//
// Files (files.go, limits.go, counters.go) reads the few container and pod
// cgroup files the Summary does not carry — CFS quota, shares or weight and
// memory limits, CFS throttling, memory events, block IO — straight from
// cgroupfs on v1 and v2, keeping each file open to read it again with pread.
package cadvisor
