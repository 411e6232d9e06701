package cadvisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// defaultInterface returns the interface carrying the IPv4 default route in a
// /proc/net/route file (destination and mask 0, route up); with several, the
// one with the lowest metric. "" when there is no default route.
func defaultInterface(routeFile string) (string, error) {
	return defaultInterfaceWith(os.ReadFile, routeFile)
}

// defaultInterfaceWith is defaultInterface reading through read.
func defaultInterfaceWith(read readFileFunc, routeFile string) (string, error) {
	data, err := read(routeFile)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", routeFile, err)
	}
	best, bestMetric := "", int64(-1)
	first := true
	for line := range strings.SplitSeq(string(data), "\n") {
		if first { // header
			first = false
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 8 {
			continue
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err != nil || flags&0x1 == 0 { // RTF_UP
			continue
		}
		if fields[1] != "00000000" || fields[7] != "00000000" {
			continue
		}
		metric, err := strconv.ParseInt(fields[6], 10, 64)
		if err != nil {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = fields[0], metric
		}
	}
	return best, nil
}

// meminfo is what the node needs from /proc/meminfo, in bytes.
type meminfo struct {
	memTotal, swapTotal, swapFree uint64
}

// readMeminfo parses MemTotal, SwapTotal and SwapFree from a /proc/meminfo
// file. MemTotal is required.
func readMeminfo(file string) (meminfo, error) {
	return readMeminfoWith(os.ReadFile, file)
}

// readMeminfoWith is readMeminfo reading through read.
func readMeminfoWith(read readFileFunc, file string) (meminfo, error) {
	var m meminfo
	data, err := read(file)
	if err != nil {
		return m, fmt.Errorf("read %s: %w", file, err)
	}
	found := false
	for line := range strings.SplitSeq(string(data), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch key {
		case "MemTotal":
			dst, found = &m.memTotal, true
		case "SwapTotal":
			dst = &m.swapTotal
		case "SwapFree":
			dst = &m.swapFree
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return m, fmt.Errorf("%s: %s has no value", file, key)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %s %q: %w", file, key, f[0], err)
		}
		*dst = kb * 1024
	}
	if !found {
		return m, fmt.Errorf("%s: no MemTotal line", file)
	}
	return m, nil
}
