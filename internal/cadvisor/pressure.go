package cadvisor

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
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
// total stall time. The kernel counts the total in microseconds; it is returned
// in nanoseconds, the unit the Summary type documents for PSIData.Total and the
// one containerd (2.3 and later) sends over CRI, so that one Summary never
// mixes units (the kubelet's cAdvisor path keeps microseconds: see
// docs/kubelet-parity.md, "PSI units"). A file without a "full" line (the
// host's cpu on older kernels) leaves Full zero.
func readPressure(file string) (*statsapi.PSIStats, error) {
	return readPressureWith(os.ReadFile, file)
}

// parseAvg parses a PSI average. ParseFloat takes "NaN" and "Inf", which no
// kernel writes and JSON cannot hold (one would fail the whole /stats/summary
// answer): an error.
func parseAvg(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err == nil && !finite(f) {
		return 0, errors.New("not a finite number")
	}
	return f, err
}

// finite reports that f is neither NaN nor ±Inf: a float JSON can hold.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// readPressureWith is readPressure reading through read.
func readPressureWith(read readFileFunc, file string) (*statsapi.PSIStats, error) {
	data, err := read(file)
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
				d.Avg10, perr = parseAvg(v)
			case "avg60":
				d.Avg60, perr = parseAvg(v)
			case "avg300":
				d.Avg300, perr = parseAvg(v)
			case "total":
				var us uint64
				us, perr = strconv.ParseUint(v, 10, 64)
				d.Total = psiMicrosToNanos(us)
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

// psiMicrosToNanos converts a PSI stall total from the kernel's microseconds
// to the Summary's nanoseconds, saturating rather than wrapping (a total that
// large is 584 years of stall).
func psiMicrosToNanos(us uint64) uint64 {
	hi, lo := bits.Mul64(us, 1000)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// addHostPressure sets the node's CPU, memory and IO pressure from
// procRoot/pressure where the root cgroup gave none (cgroup v1, or a v2 root
// without pressure files). A kernel without PSI has no such files: nothing is
// set and that is not an error. The files are read through readFile.
func addHostPressure(readFile readFileFunc, node *CgroupStats, procRoot string, now time.Time) []error {
	var errs []error
	read := func(resource string) *statsapi.PSIStats {
		p, err := readPressureWith(readFile, filepath.Join(procRoot, "pressure", resource))
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
