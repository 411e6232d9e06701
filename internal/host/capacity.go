package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Capacity is the node's CPU and memory as the kubelet reports them in its
// node status (status.capacity), which kubeletstats divides by for its
// *.node.utilization metrics: the number of online logical CPUs (cAdvisor's
// NumCores) and MemTotal.
type Capacity struct {
	CPUs   int
	Memory uint64 // bytes
}

// ReadCapacity reads the online CPUs from sysRoot/devices/system/cpu/online
// ("0-3,6") and MemTotal from procRoot/meminfo.
func ReadCapacity(sysRoot, procRoot string) (Capacity, error) {
	var c Capacity
	file := filepath.Join(sysRoot, "devices", "system", "cpu", "online")
	data, err := os.ReadFile(file)
	if err != nil {
		return c, fmt.Errorf("read %s: %w", file, err)
	}
	if c.CPUs, err = countCPUs(strings.TrimSpace(string(data))); err != nil {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	file = filepath.Join(procRoot, "meminfo")
	data, err = os.ReadFile(file)
	if err != nil {
		return c, fmt.Errorf("read %s: %w", file, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return c, fmt.Errorf("%s: MemTotal %q: %w", file, v, err)
		}
		c.Memory = kb * 1024
		return c, nil
	}
	return c, fmt.Errorf("%s: no MemTotal line", file)
}

// countCPUs counts the CPUs of a kernel CPU list ("0-3,6,8-9").
func countCPUs(list string) (int, error) {
	n := 0
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("cpu list %q: bad range %q", list, part)
			}
		}
		n += b - a + 1
	}
	return n, nil
}
