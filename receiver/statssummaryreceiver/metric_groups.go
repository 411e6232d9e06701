package statssummaryreceiver

import (
	"errors"
	"fmt"
	"slices"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/convert"
)

// MetricGroup is a kind of object of the Summary whose metrics can be collected
// or left out as a whole.
type MetricGroup string

// The metric groups. Node, pod and container are collected by default, as
// kubeletstats does; volume is opt-in, as there. system_container is collected
// by default but its metrics are all off by default: enabling one is enough.
const (
	NodeMetricGroup            MetricGroup = "node"
	SystemContainerMetricGroup MetricGroup = "system_container"
	PodMetricGroup             MetricGroup = "pod"
	ContainerMetricGroup       MetricGroup = "container"
	VolumeMetricGroup          MetricGroup = "volume"
)

var (
	allMetricGroups = []MetricGroup{
		NodeMetricGroup, SystemContainerMetricGroup, PodMetricGroup, ContainerMetricGroup, VolumeMetricGroup,
	}
	defaultMetricGroups = []MetricGroup{
		NodeMetricGroup, SystemContainerMetricGroup, PodMetricGroup, ContainerMetricGroup,
	}
)

// GroupsConfig selects which objects of the Summary become metrics. It sits in
// Config next to mdatagen's per-metric and per-resource-attribute switches.
type GroupsConfig struct {
	// MetricGroups lists the groups to collect among node, system_container,
	// pod, container and volume. The default is all but volume.
	MetricGroups []MetricGroup `mapstructure:"metric_groups"`
	// CollectAllNetworkInterfaces records every interface of the node or of a
	// pod in k8s.{node,pod}.network.*, not only the default one (the kubelet's
	// eth0 or its first interface), which is all kubeletstats records by default.
	CollectAllNetworkInterfaces NetworkInterfacesConfig `mapstructure:"collect_all_network_interfaces"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// NetworkInterfacesConfig says, per group, whether all interfaces are recorded.
type NetworkInterfacesConfig struct {
	Node bool `mapstructure:"node"`
	Pod  bool `mapstructure:"pod"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultGroupsConfig() GroupsConfig {
	return GroupsConfig{MetricGroups: slices.Clone(defaultMetricGroups)}
}

// validate rejects an empty list and unknown or repeated group names.
func (g *GroupsConfig) validate() error {
	if len(g.MetricGroups) == 0 {
		return errors.New("metric_groups: must name at least one of node, system_container, pod, container, volume")
	}
	var errs []error
	seen := make(map[MetricGroup]bool, len(g.MetricGroups))
	for _, group := range g.MetricGroups {
		switch {
		case !slices.Contains(allMetricGroups, group):
			errs = append(errs, fmt.Errorf("metric_groups: unknown group %q (want node, system_container, pod, container or volume)", group))
		case seen[group]:
			errs = append(errs, fmt.Errorf("metric_groups: group %q listed twice", group))
		}
		seen[group] = true
	}
	return errors.Join(errs...)
}

// convertGroups is what the converter collects.
func (g *GroupsConfig) convertGroups() convert.Groups {
	return convert.Groups{
		Node:              slices.Contains(g.MetricGroups, NodeMetricGroup),
		SystemContainer:   slices.Contains(g.MetricGroups, SystemContainerMetricGroup),
		Pod:               slices.Contains(g.MetricGroups, PodMetricGroup),
		Container:         slices.Contains(g.MetricGroups, ContainerMetricGroup),
		Volume:            slices.Contains(g.MetricGroups, VolumeMetricGroup),
		AllNodeInterfaces: g.CollectAllNetworkInterfaces.Node,
		AllPodInterfaces:  g.CollectAllNetworkInterfaces.Pod,
	}
}
