package summary

import statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

// CPUAndMemory returns the reduced Summary that the kubelet serves for
// only_cpu_and_memory=true: the node, its system containers, the pods and their
// containers keep their identity (names, references, start times) and their
// CPU and memory blocks; every other block is left out. The result shares the
// CPU and memory blocks with s, so neither may be modified afterwards.
func CPUAndMemory(s *statsapi.Summary) *statsapi.Summary {
	if s == nil {
		return nil
	}
	out := &statsapi.Summary{
		Node: statsapi.NodeStats{
			NodeName:         s.Node.NodeName,
			SystemContainers: containersCPUAndMemory(s.Node.SystemContainers),
			StartTime:        s.Node.StartTime,
			CPU:              s.Node.CPU,
			Memory:           s.Node.Memory,
		},
	}
	if s.Pods != nil {
		out.Pods = make([]statsapi.PodStats, len(s.Pods))
		for i := range s.Pods {
			p := &s.Pods[i]
			out.Pods[i] = statsapi.PodStats{
				PodRef:     p.PodRef,
				StartTime:  p.StartTime,
				Containers: containersCPUAndMemory(p.Containers),
				CPU:        p.CPU,
				Memory:     p.Memory,
			}
		}
	}
	return out
}

func containersCPUAndMemory(in []statsapi.ContainerStats) []statsapi.ContainerStats {
	if in == nil {
		return nil
	}
	out := make([]statsapi.ContainerStats, len(in))
	for i := range in {
		out[i] = statsapi.ContainerStats{
			Name:      in[i].Name,
			StartTime: in[i].StartTime,
			CPU:       in[i].CPU,
			Memory:    in[i].Memory,
		}
	}
	return out
}
