package summary

import "fmt"

// Mode says which source feeds pod and container CPU, memory and the other
// cgroup blocks.
type Mode string

// Provider modes.
const (
	// ModeAuto picks a mode when the receiver starts (see ResolveMode).
	ModeAuto Mode = "auto"
	// ModeCRI takes pods and containers from the runtime only; cgroups feed
	// the node and system containers.
	ModeCRI Mode = "cri"
	// ModeCRIFill keeps every value the runtime gave and fills what it left
	// nil from the pod cgroups.
	ModeCRIFill Mode = "cri+cadvisor"
	// ModeCAdvisor takes pod and container stats from cgroups and identity
	// from the runtime (the kubelet's legacy mode, for runtimes with poor CRI
	// stats); the runtime fills what the cgroups lack.
	ModeCAdvisor Mode = "cadvisor"
)

// ParseMode checks a configured mode; empty is ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeCRI, ModeCRIFill, ModeCAdvisor:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q: want auto, cri, cri+cadvisor or cadvisor", s)
}

// ResolveMode turns ModeAuto into a concrete mode and says why. Without pod
// cgroups there is nothing to fill from, so the runtime alone feeds pods;
// otherwise the fill mode, which never overrides a runtime value and so is
// never worse than ModeCRI.
func ResolveMode(m Mode, podCgroupsFound bool) (Mode, string) {
	if m != ModeAuto {
		return m, "configured"
	}
	if !podCgroupsFound {
		return ModeCRI, "no kubepods cgroup found: pod stats come from the runtime alone"
	}
	return ModeCRIFill, "kubepods cgroup found: runtime values kept, pod cgroups fill what the runtime leaves empty"
}
