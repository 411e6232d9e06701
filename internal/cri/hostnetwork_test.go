package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
)

func iface(name string, rx, tx uint64) *runtimeapi.NetworkInterfaceUsage {
	return &runtimeapi.NetworkInterfaceUsage{Name: name, RxBytes: u64(rx), RxErrors: u64(0), TxBytes: u64(tx), TxErrors: u64(0)}
}

// hostNetworkStatus is PodSandboxStatus of a hostNetwork sandbox, as CRI-O
// and containerd answer it.
func hostNetworkStatus(id string) *runtimeapi.PodSandboxStatus {
	return &runtimeapi.PodSandboxStatus{Id: id, State: ready, Linux: &runtimeapi.LinuxPodSandboxStatus{
		Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER}},
	}}
}

// crioHostNetworkState is a node as CRI-O 1.36 reports it: a hostNetwork pod
// whose sandbox stats list the node's interfaces (the first link, lo, as the
// default, the others in interfaces), and a pod with its own network
// namespace reported the same way (lo, then eth0).
func crioHostNetworkState() crifake.State {
	ts := at(100 * time.Second)
	return crifake.State{
		Sandboxes: []*runtimeapi.PodSandbox{
			sandbox("sb-host", "node-exporter", "uid-host", ready, 0),
			sandbox("sb-own", "web", "uid-own", ready, 0),
		},
		Containers: []*runtimeapi.Container{
			container("c-host", "sb-host", "exporter", running, time.Second),
			container("c-own", "sb-own", "nginx", running, time.Second),
		},
		SandboxStatuses: []*runtimeapi.PodSandboxStatus{hostNetworkStatus("sb-host")},
		PodSandboxStats: []*runtimeapi.PodSandboxStats{
			{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-host"}, Linux: &runtimeapi.LinuxPodSandboxStats{
				Network: &runtimeapi.NetworkUsage{
					DefaultInterface: iface("lo", 900, 900),
					Interfaces:       []*runtimeapi.NetworkInterfaceUsage{iface("eth0", 5e9, 4e9), iface("ifb0", 7, 8), iface("ifb1", 9, 10)},
				},
				Containers: []*runtimeapi.ContainerStats{cpuMem("c-host", 1, 2)},
			}},
			{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-own"}, Linux: &runtimeapi.LinuxPodSandboxStats{
				Network: &runtimeapi.NetworkUsage{
					Timestamp:        ts,
					DefaultInterface: iface("lo", 30, 30),
					Interfaces:       []*runtimeapi.NetworkInterfaceUsage{iface("eth0", 1000, 2000)},
				},
				Containers: []*runtimeapi.ContainerStats{cpuMem("c-own", 3, 4)},
			}},
		},
	}
}

// TestHostNetworkPodHasNoNetwork: the node's interfaces that CRI-O lists for
// a hostNetwork sandbox are dropped; a pod with its own namespace keeps its
// network, eth0 as the default; PodSandboxStatus is asked once per sandbox,
// however many scrapes.
func TestHostNetworkPodHasNoNetwork(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(crioHostNetworkState())
	p := newTestProvider(t, srv, Options{})

	for scrape := range 3 {
		res, err := p.PodStats(t.Context())
		require.NoError(t, err)
		require.Len(t, res.Pods, 2)
		require.Equal(t, []bool{true, false}, res.HostNetwork, "scrape %d", scrape)
		host, own := res.Pods[0], res.Pods[1]
		require.Equal(t, "node-exporter", host.PodRef.Name)
		assert.Nil(t, host.Network, "scrape %d: a hostNetwork pod's network is the node's", scrape)
		require.NotNil(t, own.Network, "scrape %d", scrape)
		assert.Equal(t, "eth0", own.Network.Name)
		assert.Equal(t, uint64(1000), *own.Network.RxBytes)
		assert.Equal(t, uint64(2000), *own.Network.TxBytes)
		// The containers are reported as usual.
		require.Len(t, host.Containers, 1)
		assert.Equal(t, uint64(2), *host.Containers[0].Memory.WorkingSetBytes)
	}
	assert.Equal(t, 2, srv.Calls("PodSandboxStatus"), "one PodSandboxStatus per sandbox, not per scrape")
}

// TestHostNetworkCacheFollowsTheInventory: a sandbox no longer listed is
// forgotten, a new one is asked once; the partial path reports HostNetwork
// too.
func TestHostNetworkCacheFollowsTheInventory(t *testing.T) {
	srv := crifake.New(t)
	st := crioHostNetworkState()
	srv.SetState(st)
	p := newTestProvider(t, srv, Options{StatsPath: PathPartial})
	st.ContainerStats = []*runtimeapi.ContainerStats{cpuMem("c-host", 1, 2), cpuMem("c-own", 3, 4)}
	srv.SetState(st)

	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, res.HostNetwork)
	assert.Equal(t, 2, p.netns.len())

	// The hostNetwork pod goes; another hostNetwork pod comes.
	st.Sandboxes[0] = sandbox("sb-host2", "node-exporter", "uid-host2", ready, 10*time.Second)
	st.Containers[0] = container("c-host2", "sb-host2", "exporter", running, 11*time.Second)
	st.SandboxStatuses = []*runtimeapi.PodSandboxStatus{hostNetworkStatus("sb-host2")}
	st.ContainerStats[0] = cpuMem("c-host2", 1, 2)
	srv.SetState(st)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	require.Len(t, res.Pods, 2)
	assert.Equal(t, "uid-host2", res.Pods[0].PodRef.UID)
	assert.Equal(t, []bool{true, false}, res.HostNetwork)
	assert.Equal(t, 3, srv.Calls("PodSandboxStatus"), "only the new sandbox is asked")
	assert.Equal(t, 2, p.netns.len(), "the removed sandbox is forgotten")

	// No pods: nothing remembered.
	srv.SetState(crifake.State{})
	_, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Zero(t, p.netns.len())
}

// TestHostNetworkStatusErrors: a sandbox removed between the list and its
// status (NotFound) is reported as not hostNetwork and asked again next time;
// any other PodSandboxStatus error fails the pod stats, naming the call.
func TestHostNetworkStatusErrors(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(crioHostNetworkState())
	p := newTestProvider(t, srv, Options{})

	srv.SetError("PodSandboxStatus", status.Error(codes.NotFound, "sandbox removed"))
	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false}, res.HostNetwork)
	assert.Zero(t, p.netns.len())

	srv.SetError("PodSandboxStatus", status.Error(codes.Internal, "broken"))
	_, err = p.PodStats(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "cri PodSandboxStatus")
	assert.Equal(t, codes.Internal, status.Code(err))

	srv.SetError("PodSandboxStatus", nil)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, res.HostNetwork)
	assert.Nil(t, res.Pods[0].Network)
}
