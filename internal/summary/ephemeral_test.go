package summary

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/host"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

type fakeHost struct {
	node    host.NodeStats
	nodeErr error
	pods    map[string]host.PodStats
}

func (f fakeHost) Node() (host.NodeStats, error) { return f.node, f.nodeErr }
func (f fakeHost) Pod(uid string) (host.PodStats, bool) {
	p, ok := f.pods[uid]
	return p, ok
}

func TestHostStatsInSummary(t *testing.T) {
	boot := time.Unix(1690000000, 0)
	nodeFs := &statsapi.FsStats{CapacityBytes: testkit.P64(100 << 30), AvailableBytes: testkit.P64(40 << 30), Inodes: testkit.P64(1e6), InodesFree: testkit.P64(9e5)}
	rlimit := &statsapi.RlimitStats{MaxPID: func() *int64 { v := int64(32768); return &v }()}
	res := onePod(nil, nil, criCPU(1, nil), nil)
	res.Pods[0].Containers[0].Rootfs = &statsapi.FsStats{UsedBytes: testkit.P64(1000), InodesUsed: testkit.P64(10)}
	h := fakeHost{
		node: host.NodeStats{StartTime: boot, Fs: nodeFs, Rlimit: rlimit},
		pods: map[string]host.PodStats{podUID: {
			Volumes:              []statsapi.VolumeStats{{Name: "cache", FsStats: statsapi.FsStats{UsedBytes: testkit.P64(5000)}}},
			EphemeralVolumeBytes: 5000, EphemeralVolumeInodes: 3,
			Logs:          map[string]*statsapi.FsStats{"app": {UsedBytes: testkit.P64(300), InodesUsed: testkit.P64(2)}},
			EtcHostsBytes: 4096, EtcHostsInodes: 1,
			PodLogBytes: 8192, PodLogInodes: 2,
		}},
	}
	a := NewAssembler(Options{NodeName: "n", Pods: fakePods{res: res}, Host: h})
	got, err := a.Get(t.Context())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	n := got.Summary.Node
	if !n.StartTime.Time.Equal(boot) || n.Fs != nodeFs || n.Rlimit != rlimit {
		t.Errorf("node start %v fs %v rlimit %v; want %v and the host's blocks", n.StartTime, n.Fs, n.Rlimit, boot)
	}
	pod := got.Summary.Pods[0]
	if len(pod.VolumeStats) != 1 || pod.VolumeStats[0].Name != "cache" {
		t.Errorf("volumes = %+v", pod.VolumeStats)
	}
	if l := pod.Containers[0].Logs; l == nil || *l.UsedBytes != 300 || *l.CapacityBytes != 100<<30 {
		t.Errorf("container logs = %+v, want 300 used on the node fs", l)
	}
	es := pod.EphemeralStorage
	if es == nil {
		t.Fatal("no ephemeral storage")
	}
	// rootfs + logs + ephemeral volumes + etc-hosts + the pod's own log files
	want := statsapi.FsStats{UsedBytes: testkit.P64(1000 + 300 + 5000 + 4096 + 8192), InodesUsed: testkit.P64(10 + 2 + 3 + 1 + 2),
		CapacityBytes: nodeFs.CapacityBytes, AvailableBytes: nodeFs.AvailableBytes, Inodes: nodeFs.Inodes, InodesFree: nodeFs.InodesFree}
	es.Time = want.Time
	if d := cmp.Diff(want, *es); d != "" {
		t.Errorf("ephemeral storage (-want +got):\n%s", d)
	}
}

func TestHostFailureKeepsPods(t *testing.T) {
	a := NewAssembler(Options{NodeName: "n",
		Pods: fakePods{res: onePod(nil, nil, criCPU(1, nil), nil)},
		Host: fakeHost{nodeErr: errors.New("read /proc/stat: no such file")}})
	got, err := a.Get(t.Context())
	var se *SourceError
	if !errors.As(err, &se) || se.Source != "host" {
		t.Fatalf("want a host source error, got %v", err)
	}
	if len(got.Summary.Pods) != 1 {
		t.Fatalf("pods lost: %+v", got.Summary.Pods)
	}
	if _, ok := got.Provenance.Container(podUID, "app"); !ok {
		t.Error("no provenance for the container")
	}
}

type unwalkedHost struct{ fakeHost }

func (unwalkedHost) Pod(string) (host.PodStats, bool) { return host.PodStats{}, false }

func TestEphemeralStorageBeforeAndAfterFirstWalk(t *testing.T) {
	walkTime := time.Unix(1700000100, 0)
	nodeFs := &statsapi.FsStats{CapacityBytes: testkit.P64(1 << 40)}
	tests := []struct {
		name     string
		host     HostStatsProvider
		wantUsed *uint64
	}{
		{"before the first walk: left out, not understated", unwalkedHost{fakeHost{node: host.NodeStats{Fs: nodeFs}}}, nil},
		// The walk did not find the pod: no volumes or logs of its own on disk.
		{"walked, pod without files: rootfs only", fakeHost{node: host.NodeStats{Fs: nodeFs}, pods: map[string]host.PodStats{"other": {}}}, testkit.P64(1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := onePod(nil, nil, criCPU(1, nil), nil)
			res.Pods[0].Containers[0].Rootfs = &statsapi.FsStats{UsedBytes: testkit.P64(1000), InodesUsed: testkit.P64(10)}
			h := tt.host
			if fh, ok := h.(fakeHost); ok {
				fh.pods[podUID] = host.PodStats{Time: walkTime}
				h = fh
			}
			got, err := NewAssembler(Options{NodeName: "n", Pods: fakePods{res: res}, Host: h}).Get(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			es := got.Summary.Pods[0].EphemeralStorage
			if tt.wantUsed == nil {
				if es != nil {
					t.Errorf("ephemeral storage = %+v, want none before the first walk", es)
				}
				return
			}
			if es == nil || *es.UsedBytes != *tt.wantUsed || !es.Time.Time.Equal(walkTime) || es.CapacityBytes != nodeFs.CapacityBytes {
				t.Errorf("ephemeral storage = %+v, want %d used at %v on the node fs", es, *tt.wantUsed, walkTime)
			}
		})
	}
}
