package cadvisor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// podDefaultInterface is the interface a pod's network block is flattened
// from when the pod has it, as the kubelet does.
const podDefaultInterface = "eth0"

// cgroupProcs counts the processes in a cgroup and all its descendants and
// returns one of them, 0 when there is none: the cgroup's own first, then
// its children's in name order. A cgroup directory whose link count is 2 has
// no child cgroup (cgroupfs, like most filesystems, counts a directory's
// subdirectories in its links), so it is not listed: listing a container
// cgroup, to find the nested cgroups few containers have, read its twenty to
// sixty files' names at every scrape. Any other link count is listed.
func cgroupProcs(read readFileFunc, mount, cgroup string) (count uint64, pid int) {
	dir := filepath.Join(mount, cgroup)
	count, pid = procsOf(read, filepath.Join(dir, "cgroup.procs"))
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err == nil && st.Nlink == 2 {
		return count, pid
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return count, pid
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n, p := cgroupProcs(read, mount, path.Join(cgroup, e.Name()))
		count += n
		if pid == 0 {
			pid = p
		}
	}
	return count, pid
}

// procsOf counts the processes listed in a cgroup.procs file and returns the
// first, 0 when there is none or the file cannot be read.
func procsOf(read readFileFunc, file string) (count uint64, pid int) {
	data, err := read(file)
	if err != nil {
		return 0, 0
	}
	for f := range strings.FieldsSeq(string(data)) {
		count++
		if pid == 0 {
			pid, _ = strconv.Atoi(f)
		}
	}
	return count, pid
}

// containerProcs is one container cgroup of a pod and its process count.
type containerProcs struct {
	cgroup string
	count  uint64
}

// podProcs counts a pod cgroup's processes (they live in its container
// cgroups): in all, and per container cgroup by container ID (the sandbox's
// among them), and returns one of them, 0 when there is none. One pass: the
// pod cgroup is listed once and each child cgroup walked once, its count going
// both to the total and to its container (a walk per container after a walk
// of the whole pod read every cgroup.procs twice, 38 % of the collector's CPU
// on a 110 × 3 node whose pod cgroups are read every scrape).
func podProcs(read readFileFunc, mount, podCgroup string) (total uint64, byContainer map[string]containerProcs, pid int) {
	total, pid = procsOf(read, filepath.Join(mount, podCgroup, "cgroup.procs"))
	entries, err := os.ReadDir(filepath.Join(mount, podCgroup))
	if err != nil {
		return total, map[string]containerProcs{}, pid
	}
	byContainer = make(map[string]containerProcs, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		cg := path.Join(podCgroup, e.Name())
		n, p := cgroupProcs(read, mount, cg)
		total += n
		if pid == 0 {
			pid = p
		}
		if id, ok := containerIDFromCgroup(e.Name()); ok {
			byContainer[id] = containerProcs{cgroup: cg, count: n}
		}
	}
	return total, byContainer, pid
}

// podNetwork reads the interfaces of pid's network namespace, nil when that
// namespace is the host's (a hostNetwork pod: its traffic is the node's) or
// cannot be read.
func podNetwork(procRoot string, pid int, at time.Time) *statsapi.NetworkStats {
	own, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "ns", "net"))
	if err != nil {
		return nil
	}
	if own == hostNetns(procRoot) {
		return nil
	}
	ifaces, err := netDev(filepath.Join(procRoot, strconv.Itoa(pid), "net", "dev"))
	if err != nil || len(ifaces) == 0 {
		return nil
	}
	n := &statsapi.NetworkStats{Time: metav1.NewTime(at), Interfaces: ifaces}
	setDefaultInterface(n, podDefaultInterface)
	return n
}

// hostNetns names the host's network namespace: pid 1's, or this process's
// when pid 1's cannot be read (the collector runs with hostNetwork).
func hostNetns(procRoot string) string {
	if ns, err := os.Readlink(filepath.Join(procRoot, "1", "ns", "net")); err == nil {
		return ns
	}
	ns, _ := os.Readlink(filepath.Join(procRoot, "self", "ns", "net"))
	return ns
}

// netDev parses a /proc/<pid>/net/dev file, leaving out the loopback.
func netDev(file string) ([]statsapi.InterfaceStats, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var out []statsapi.InterfaceStats
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 0; sc.Scan(); line++ {
		if line < 2 { // two header lines
			continue
		}
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if name == "lo" || len(f) < 16 {
			continue
		}
		var v [4]uint64
		for i, idx := range []int{0, 2, 8, 10} { // rx bytes, rx errs, tx bytes, tx errs
			if v[i], err = strconv.ParseUint(f[idx], 10, 64); err != nil {
				return nil, fmt.Errorf("%s: %s field %d: %w", file, name, idx, err)
			}
		}
		out = append(out, statsapi.InterfaceStats{Name: name, RxBytes: &v[0], RxErrors: &v[1], TxBytes: &v[2], TxErrors: &v[3]})
	}
	return out, sc.Err()
}
