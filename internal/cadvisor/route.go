package cadvisor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// defaultInterface returns the interface carrying the IPv4 default route in a
// /proc/net/route file (destination and mask 0, route up); with several, the
// one with the lowest metric. "" when there is no default route.
func defaultInterface(routeFile string) (string, error) {
	f, err := os.Open(routeFile)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", routeFile, err)
	}
	defer f.Close()
	best, bestMetric := "", int64(-1)
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		fields := strings.Fields(sc.Text())
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
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", routeFile, err)
	}
	return best, nil
}

// memTotal returns MemTotal from a /proc/meminfo file, in bytes.
func memTotal(meminfoFile string) (uint64, error) {
	data, err := os.ReadFile(meminfoFile)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", meminfoFile, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: MemTotal %q: %w", meminfoFile, f[0], err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%s: no MemTotal line", meminfoFile)
}
