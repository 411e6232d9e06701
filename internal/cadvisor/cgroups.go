package cadvisor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Usual kubepods roots: the cgroupfs driver's and the systemd driver's.
var defaultPodsCgroups = []string{"/kubepods", "/kubepods.slice"}

// podUIDFromCgroup returns the pod UID named by a pod cgroup directory:
// "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid_with_underscores>.slice"
// (systemd).
func podUIDFromCgroup(base string) (string, bool) {
	if strings.HasSuffix(base, ".slice") {
		i := strings.LastIndex(base, "-pod")
		if i < 0 {
			return "", false
		}
		uid := strings.TrimSuffix(base[i+len("-pod"):], ".slice")
		uid = strings.ReplaceAll(uid, "_", "-")
		return uid, validUID(uid)
	}
	if uid, ok := strings.CutPrefix(base, "pod"); ok {
		return uid, validUID(uid)
	}
	return "", false
}

// validUID accepts a Kubernetes UID (hex digits and dashes); static pods use a
// bare hash, which this also accepts.
func validUID(uid string) bool {
	if uid == "" {
		return false
	}
	for _, r := range uid {
		if !isHexDigit(r) && (r < 'A' || r > 'F') && r != '-' {
			return false
		}
	}
	return true
}

// containerIDFromCgroup returns the runtime container ID named by a container
// cgroup directory inside a pod cgroup: the bare ID (cgroupfs) or
// "<runtime>-<id>.scope" (systemd). CRI-O's conmon scopes are not containers.
func containerIDFromCgroup(base string) (string, bool) {
	if strings.HasSuffix(base, ".scope") {
		if strings.Contains(base, "conmon") {
			return "", false
		}
		name := strings.TrimSuffix(base, ".scope")
		id := name[strings.LastIndex(name, "-")+1:]
		return id, isHexID(id)
	}
	return base, isHexID(base)
}

func isHexID(id string) bool {
	if len(id) < 12 {
		return false
	}
	for _, r := range id {
		if !isHexDigit(r) {
			return false
		}
	}
	return true
}

// isHexDigit accepts 0-9 and a-f.
func isHexDigit(r rune) bool { return ('0' <= r && r <= '9') || ('a' <= r && r <= 'f') }

// listPodCgroups finds the pod cgroups under podsRoot (a cgroup name) in the
// hierarchy mounted at mount: directly below it and one level down (the QoS
// classes). It returns cgroup names by pod UID.
func listPodCgroups(mount, podsRoot string) (map[string]string, error) {
	out := map[string]string{}
	top, err := os.ReadDir(filepath.Join(mount, podsRoot))
	if err != nil {
		return nil, fmt.Errorf("list pod cgroups: %w", err)
	}
	for _, e := range top {
		if !e.IsDir() {
			continue
		}
		name := path.Join(podsRoot, e.Name())
		if uid, ok := podUIDFromCgroup(e.Name()); ok {
			out[uid] = name
			continue
		}
		// A QoS class cgroup: its children are pods.
		sub, err := os.ReadDir(filepath.Join(mount, name))
		if err != nil {
			continue // removed meanwhile
		}
		for _, s := range sub {
			if !s.IsDir() {
				continue
			}
			if uid, ok := podUIDFromCgroup(s.Name()); ok {
				out[uid] = path.Join(name, s.Name())
			}
		}
	}
	return out, nil
}

// listContainerCgroups finds the container cgroups inside a pod cgroup, by
// container ID.
func listContainerCgroups(mount, podCgroup string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(filepath.Join(mount, podCgroup))
	if err != nil {
		return out
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if id, ok := containerIDFromCgroup(e.Name()); ok {
			out[id] = path.Join(podCgroup, e.Name())
		}
	}
	return out
}

// detectPodsCgroup returns the first usual kubepods root that exists in the
// hierarchy mounted at mount, "" when none does.
func detectPodsCgroup(mount string) string {
	for _, c := range defaultPodsCgroups {
		if fi, err := os.Stat(filepath.Join(mount, c)); err == nil && fi.IsDir() {
			return c
		}
	}
	return ""
}

// processCgroup returns the cgroup of process pid for controller ("cpu"; on a
// cgroup v2 host the unified entry), from procRoot/<pid>/cgroup.
func processCgroup(procRoot string, pid int, controller string) (string, error) {
	file := filepath.Join(procRoot, strconv.Itoa(pid), "cgroup")
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	unified := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			unified = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return parts[2], nil
			}
		}
	}
	if unified != "" {
		return unified, nil
	}
	return "", fmt.Errorf("%s: no %s cgroup", file, controller)
}

// process is a running process found by its command name, with its cgroup.
type process struct {
	pid    int
	comm   string
	cgroup string
}

// findProcessCgroup returns the runtime's process, with its cgroup: of the
// processes whose command name (procRoot/<pid>/comm) is one of names, the one
// that holds the listening unix socket at socket (the CRI endpoint) when
// socket is set and some candidate holds it, else the first one found — a
// machine may run several runtimes (or a test's private containerd beside
// the node's), and only the one the receiver talks to is "the runtime". ok is
// false when none runs.
func findProcessCgroup(procRoot string, names []string, controller, socket string) (proc process, ok bool, err error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return process{}, false, fmt.Errorf("list %s: %w", procRoot, err)
	}
	var candidates []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err != nil {
			continue
		}
		c := strings.TrimSpace(string(comm))
		if slices.Contains(names, c) {
			candidates = append(candidates, process{pid: pid, comm: c})
		}
	}
	if len(candidates) == 0 {
		return process{}, false, nil
	}
	chosen := candidates[0]
	if socket != "" && len(candidates) > 1 {
		if inodes := listeningSockets(procRoot, socket); len(inodes) > 0 {
			for _, c := range candidates {
				if holdsSocket(procRoot, c.pid, inodes) {
					chosen = c
					break
				}
			}
		}
	}
	chosen.cgroup, err = processCgroup(procRoot, chosen.pid, controller)
	return chosen, err == nil, err
}

// listeningSockets returns the inodes of the unix sockets listening on path
// (or on the path it resolves to), from procRoot/net/unix: "Num RefCount
// Protocol Flags Type St Inode Path" lines, a listening socket's Flags holding
// __SO_ACCEPTCON (0x10000). Sockets are per network namespace: this sees the
// reader's, the node's for a collector on the host network.
func listeningSockets(procRoot, path string) map[uint64]bool {
	paths := []string{filepath.Clean(path)}
	if resolved, err := filepath.EvalSymlinks(path); err == nil && resolved != paths[0] {
		paths = append(paths, resolved)
	}
	f, err := os.Open(filepath.Join(procRoot, "net", "unix"))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[uint64]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || !slices.Contains(paths, fields[7]) {
			continue
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err != nil || flags&0x10000 == 0 {
			continue
		}
		if inode, err := strconv.ParseUint(fields[6], 10, 64); err == nil {
			out[inode] = true
		}
	}
	return out
}

// holdsSocket tells whether process pid has a file descriptor on one of the
// socket inodes (its procRoot/<pid>/fd links read "socket:[inode]").
func holdsSocket(procRoot string, pid int, inodes map[uint64]bool) bool {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		if v, ok := strings.CutPrefix(link, "socket:["); ok {
			if inode, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64); err == nil && inodes[inode] {
				return true
			}
		}
	}
	return false
}
