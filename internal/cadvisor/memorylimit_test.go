package cadvisor

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/opencontainers/cgroups"
)

// TestMemoryLimitAtNodeMemoryIsALimit: a cgroup limited to the node's whole
// memory (the kubelet's kubepods on a node without reservations) has a
// limit, and available memory under it, as the kubelet's isMemoryUnlimited
// decides (only a limit above 2^62 means none); the kernel's "unlimited" is
// no limit. (An empty cgroup has no memory sample to compute availability
// from: the limit it carries is what the assembly uses.) The old rule (a limit ≥ the node's memory means none) dropped the
// pods system container's availableBytes that the kubelet reports.
func TestMemoryLimitAtNodeMemoryIsALimit(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	root := fmt.Sprintf("/statssummary-memlimit-%d", os.Getpid())
	atNode, unlimited := root+"/at-node", root+"/unlimited"
	cgs := makeCgroups(t, taskMounts(p), root, atNode, unlimited)
	file := "memory.limit_in_bytes"
	if cgroups.IsCgroup2UnifiedMode() {
		file = "memory.max"
	}
	ctrl := "memory"
	if cgroups.IsCgroup2UnifiedMode() {
		ctrl = ""
	}
	if err := os.WriteFile(cgs[1].file(ctrl, file), []byte(strconv.FormatUint(p.capacity, 10)), 0o644); err != nil {
		t.Fatalf("limit %s to the node's memory: %v", atNode, err)
	}
	set := readUint(t, cgs[1].file(ctrl, file)) // as the kernel rounded it
	if got := p.memoryLimit(atNode); got != set {
		t.Errorf("memoryLimit(%s) = %d, want the limit %d (the node has %d)", atNode, got, set, p.capacity)
	}
	if got := p.memoryLimit(unlimited); got != 0 {
		data, _ := os.ReadFile(cgs[2].file(ctrl, file))
		t.Errorf("memoryLimit(%s) = %d with %s %q, want 0 (no limit)", unlimited, got, file, data)
	}
	s, err := p.read(atNode, metrics, 0, 0)
	if err != nil {
		t.Fatalf("read %s: %v", atNode, err)
	}
	if s.MemoryLimit != set {
		t.Errorf("the sample of %s carries the limit %d, want %d", atNode, s.MemoryLimit, set)
	}
}
