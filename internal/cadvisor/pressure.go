package cadvisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// readPressure parses a PSI file (/proc/pressure/<resource> or a cgroup's
// <resource>.pressure): "some" and "full" lines of avg10/avg60/avg300 and the
// total stall time, kept in the kernel's unit (microseconds) as the kubelet
// does. A file without a "full" line (the host's cpu on older kernels) leaves
// Full zero.
func readPressure(file string) (*statsapi.PSIStats, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	out := &statsapi.PSIStats{}
	found := false
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var d *statsapi.PSIData
		switch f[0] {
		case "some":
			d = &out.Some
		case "full":
			d = &out.Full
		default:
			return nil, fmt.Errorf("%s: unknown line %q", file, line)
		}
		found = true
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("%s: bad field %q", file, kv)
			}
			var perr error
			switch k {
			case "avg10":
				d.Avg10, perr = strconv.ParseFloat(v, 64)
			case "avg60":
				d.Avg60, perr = strconv.ParseFloat(v, 64)
			case "avg300":
				d.Avg300, perr = strconv.ParseFloat(v, 64)
			case "total":
				d.Total, perr = strconv.ParseUint(v, 10, 64)
			}
			if perr != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, kv, perr)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no some or full line", file)
	}
	return out, nil
}

// addHostPressure sets the node's CPU, memory and IO pressure from
// procRoot/pressure where the root cgroup gave none (cgroup v1, or a v2 root
// without pressure files). A kernel without PSI has no such files: nothing is
// set and that is not an error.
func addHostPressure(node *CgroupStats, procRoot string, now time.Time) []error {
	var errs []error
	read := func(resource string) *statsapi.PSIStats {
		p, err := readPressure(filepath.Join(procRoot, "pressure", resource))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return nil
		}
		return p
	}
	if node.CPU != nil && node.CPU.PSI == nil {
		node.CPU.PSI = read("cpu")
	}
	if node.Memory != nil && node.Memory.PSI == nil {
		node.Memory.PSI = read("memory")
	}
	if node.IO == nil {
		if p := read("io"); p != nil {
			node.IO = &statsapi.IOStats{Time: metav1.NewTime(now), PSI: p}
		}
	}
	return errs
}
