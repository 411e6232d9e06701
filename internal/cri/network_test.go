package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

func ifaceCRI(name string, rx uint64) *runtimeapi.NetworkInterfaceUsage {
	return &runtimeapi.NetworkInterfaceUsage{Name: name, RxBytes: testkit.U64(rx), RxErrors: testkit.U64(1), TxBytes: testkit.U64(rx * 2), TxErrors: testkit.U64(2)}
}

func ifaceWant(name string, rx uint64) statsapi.InterfaceStats {
	return statsapi.InterfaceStats{Name: name, RxBytes: testkit.P64(rx), RxErrors: testkit.P64(1), TxBytes: testkit.P64(rx * 2), TxErrors: testkit.P64(2)}
}

// TestPodNetwork checks the pod network block built from sandbox stats, as
// the runtimes in the field send it.
func TestPodNetwork(t *testing.T) {
	tests := []struct {
		name string
		net  *runtimeapi.NetworkUsage
		want *statsapi.NetworkStats
	}{
		{
			name: "no network block (host network pod)",
			net:  nil,
			want: nil,
		},
		{
			name: "containerd 1.6: eth0 as default only, timestamp 0",
			net:  &runtimeapi.NetworkUsage{DefaultInterface: ifaceCRI("eth0", 100)},
			want: &statsapi.NetworkStats{Time: received, InterfaceStats: ifaceWant("eth0", 100), Interfaces: []statsapi.InterfaceStats{ifaceWant("eth0", 100)}},
		},
		{
			name: "containerd 2.3: eth0 as default and among the interfaces is listed once",
			net: &runtimeapi.NetworkUsage{
				Timestamp:        at(100 * time.Second),
				DefaultInterface: ifaceCRI("eth0", 100),
				Interfaces:       []*runtimeapi.NetworkInterfaceUsage{ifaceCRI("eth0", 100), ifaceCRI("net1", 50)},
			},
			want: &statsapi.NetworkStats{
				Time: mt(100 * time.Second), InterfaceStats: ifaceWant("eth0", 100),
				Interfaces: []statsapi.InterfaceStats{ifaceWant("eth0", 100), ifaceWant("net1", 50)},
			},
		},
		{
			name: "CRI-O naming lo the default: eth0 is the default",
			net: &runtimeapi.NetworkUsage{
				Timestamp:        at(100 * time.Second),
				DefaultInterface: ifaceCRI("lo", 7),
				Interfaces:       []*runtimeapi.NetworkInterfaceUsage{ifaceCRI("lo", 7), ifaceCRI("eth0", 100)},
			},
			want: &statsapi.NetworkStats{
				Time: mt(100 * time.Second), InterfaceStats: ifaceWant("eth0", 100),
				Interfaces: []statsapi.InterfaceStats{ifaceWant("lo", 7), ifaceWant("eth0", 100)},
			},
		},
		{
			name: "lo as default and no eth0: the first other interface by name",
			net: &runtimeapi.NetworkUsage{
				Timestamp:        at(100 * time.Second),
				DefaultInterface: ifaceCRI("lo", 7),
				Interfaces:       []*runtimeapi.NetworkInterfaceUsage{ifaceCRI("lo", 7), ifaceCRI("net2", 20), ifaceCRI("net1", 10)},
			},
			want: &statsapi.NetworkStats{
				Time: mt(100 * time.Second), InterfaceStats: ifaceWant("net1", 10),
				Interfaces: []statsapi.InterfaceStats{ifaceWant("lo", 7), ifaceWant("net2", 20), ifaceWant("net1", 10)},
			},
		},
		{
			name: "only lo: no default at all",
			net: &runtimeapi.NetworkUsage{
				Timestamp:        at(100 * time.Second),
				DefaultInterface: ifaceCRI("lo", 7),
			},
			want: &statsapi.NetworkStats{Time: mt(100 * time.Second), Interfaces: []statsapi.InterfaceStats{ifaceWant("lo", 7)}},
		},
		{
			name: "no default named: eth0 from the interfaces",
			net: &runtimeapi.NetworkUsage{
				Timestamp:  at(100 * time.Second),
				Interfaces: []*runtimeapi.NetworkInterfaceUsage{ifaceCRI("net1", 10), ifaceCRI("eth0", 100)},
			},
			want: &statsapi.NetworkStats{
				Time: mt(100 * time.Second), InterfaceStats: ifaceWant("eth0", 100),
				Interfaces: []statsapi.InterfaceStats{ifaceWant("net1", 10), ifaceWant("eth0", 100)},
			},
		},
		{
			name: "nameless and nil interfaces are skipped",
			net: &runtimeapi.NetworkUsage{
				Timestamp:        at(100 * time.Second),
				DefaultInterface: &runtimeapi.NetworkInterfaceUsage{RxBytes: testkit.U64(5)},
				Interfaces:       []*runtimeapi.NetworkInterfaceUsage{nil, ifaceCRI("", 3), ifaceCRI("eth0", 100)},
			},
			want: &statsapi.NetworkStats{
				Time: mt(100 * time.Second), InterfaceStats: ifaceWant("eth0", 100),
				Interfaces: []statsapi.InterfaceStats{ifaceWant("eth0", 100)},
			},
		},
		{
			name: "an empty block keeps its time only",
			net:  &runtimeapi.NetworkUsage{Timestamp: at(100 * time.Second)},
			want: &statsapi.NetworkStats{Time: mt(100 * time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := strictPod(t, []*runtimeapi.PodSandboxStats{{
				Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"},
				Linux:      &runtimeapi.LinuxPodSandboxStats{Network: tt.net},
			}})
			assert.Equal(t, tt.want, p.Network)
			if p.Network != nil && p.Network.RxBytes != nil {
				for _, i := range p.Network.Interfaces {
					assert.NotSame(t, p.Network.RxBytes, i.RxBytes, "the default shares no pointer with its list entry")
				}
			}
		})
	}
}
