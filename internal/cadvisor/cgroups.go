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

// findProcessCgroup returns the first process whose command name
// (procRoot/<pid>/comm) is one of names, with its cgroup; ok is false when
// none runs.
func findProcessCgroup(procRoot string, names []string, controller string) (proc process, ok bool, err error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return process{}, false, fmt.Errorf("list %s: %w", procRoot, err)
	}
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
		for _, n := range names {
			if c == n {
				cg, err := processCgroup(procRoot, pid, controller)
				return process{pid: pid, comm: c, cgroup: cg}, err == nil, err
			}
		}
	}
	return process{}, false, nil
}
