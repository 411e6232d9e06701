package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// assertCapacity checks capacity fields against an independent statfs of
// dir. Capacity and inode totals are fixed; available bytes and free inodes
// move with whatever else writes to the disk, so they get slack.
func assertCapacity(t *testing.T, dir string, got *statsapi.FsStats) {
	t.Helper()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	require.NotNil(t, got.CapacityBytes, "capacity")
	require.NotNil(t, got.AvailableBytes, "available")
	require.NotNil(t, got.Inodes, "inodes")
	require.NotNil(t, got.InodesFree, "inodes free")
	assert.Equal(t, st.Blocks*uint64(st.Frsize), *got.CapacityBytes)
	assert.Equal(t, st.Files, *got.Inodes)
	assert.InDelta(t, float64(st.Bavail*uint64(st.Frsize)), float64(*got.AvailableBytes), 256<<20)
	assert.InDelta(t, float64(st.Ffree), float64(*got.InodesFree), 10000)
	assert.LessOrEqual(t, *got.AvailableBytes, *got.CapacityBytes)
}

// TestContainerFilesystems checks the rootfs of a container: used bytes from
// the runtime, capacity from statfs; container logs are not the runtime
// provider's (the host provider measures them).
func TestContainerFilesystems(t *testing.T) {
	const s = time.Second
	type want struct {
		rootfsUsed, rootfsInodes *uint64
		rootfsCapacity           bool
	}
	tests := []struct {
		name  string
		layer func(mount string) *runtimeapi.FilesystemUsage
		want  want
	}{
		{
			name: "rootfs: used from the writable layer, capacity from statfs of its mountpoint",
			layer: func(mount string) *runtimeapi.FilesystemUsage {
				return &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: mount}, UsedBytes: testkit.U64(4096), InodesUsed: testkit.U64(12)}
			},
			want: want{rootfsUsed: testkit.P64(4096), rootfsInodes: testkit.P64(12), rootfsCapacity: true},
		},
		{
			name: "rootfs: a mountpoint that does not exist gives used bytes only",
			layer: func(string) *runtimeapi.FilesystemUsage {
				return &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/nonexistent/statssummary"}, UsedBytes: testkit.U64(4096)}
			},
			want: want{rootfsUsed: testkit.P64(4096)},
		},
		{
			name: "rootfs: no filesystem id gives used bytes only",
			layer: func(string) *runtimeapi.FilesystemUsage {
				return &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), UsedBytes: testkit.U64(8192), InodesUsed: testkit.U64(3)}
			},
			want: want{rootfsUsed: testkit.P64(8192), rootfsInodes: testkit.P64(3)},
		},
		{name: "no writable layer: no rootfs block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount := t.TempDir()
			st := &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{Id: "c1"}}
			if tt.layer != nil {
				st.WritableLayer = tt.layer(mount)
			}
			srv := crifake.New(t)
			srv.SetState(crifake.State{
				Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
				Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, s)},
				ContainerStats: []*runtimeapi.ContainerStats{st},
			})
			res, err := newTestProvider(t, srv, Options{}).PodStats(t.Context())
			require.NoError(t, err)
			require.Len(t, res.Pods, 1)
			require.Len(t, res.Pods[0].Containers, 1)
			c := res.Pods[0].Containers[0]

			if tt.layer == nil {
				assert.Nil(t, c.Rootfs)
			} else {
				require.NotNil(t, c.Rootfs)
				assert.Equal(t, mt(100*s), c.Rootfs.Time)
				assert.Equal(t, tt.want.rootfsUsed, c.Rootfs.UsedBytes)
				assert.Equal(t, tt.want.rootfsInodes, c.Rootfs.InodesUsed)
				if tt.want.rootfsCapacity {
					assertCapacity(t, mount, c.Rootfs)
				} else {
					assert.Nil(t, c.Rootfs.CapacityBytes)
					assert.Nil(t, c.Rootfs.AvailableBytes)
				}
			}
			assert.Nil(t, c.Logs, "container logs are the host provider's")
		})
	}
}

// TestImageFsStats checks the runtime's image and container filesystems.
func TestImageFsStats(t *testing.T) {
	const s = time.Second
	fsUsage := func(mount string, used, inodes uint64, ts int64) *runtimeapi.FilesystemUsage {
		return &runtimeapi.FilesystemUsage{Timestamp: ts, FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: mount}, UsedBytes: testkit.U64(used), InodesUsed: testkit.U64(inodes)}
	}
	tests := []struct {
		name          string
		resp          func(imgMount, ctrMount string) *runtimeapi.ImageFsInfoResponse
		err           error
		wantErr       string
		wantImage     [2]uint64 // used bytes, inodes used
		wantContainer [2]uint64
		wantCtrMount  bool // container fs capacity is that of ctrMount
		wantTime      bool // times are the runtime's (100 s), else received
	}{
		{
			name: "containerd: image filesystem only, the container filesystem is the same",
			resp: func(img, _ string) *runtimeapi.ImageFsInfoResponse {
				return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{fsUsage(img, 1000, 10, at(100*s))}}
			},
			wantImage: [2]uint64{1000, 10}, wantContainer: [2]uint64{1000, 10}, wantTime: true,
		},
		{
			name: "CRI-O: separate image and container filesystems",
			resp: func(img, ctr string) *runtimeapi.ImageFsInfoResponse {
				return &runtimeapi.ImageFsInfoResponse{
					ImageFilesystems:     []*runtimeapi.FilesystemUsage{fsUsage(img, 1000, 10, at(100*s))},
					ContainerFilesystems: []*runtimeapi.FilesystemUsage{fsUsage(ctr, 2000, 20, at(100*s))},
				}
			},
			wantImage: [2]uint64{1000, 10}, wantContainer: [2]uint64{2000, 20}, wantCtrMount: true, wantTime: true,
		},
		{
			name: "empty entries are skipped; a zero timestamp becomes the receive time",
			resp: func(img, _ string) *runtimeapi.ImageFsInfoResponse {
				return &runtimeapi.ImageFsInfoResponse{
					ImageFilesystems:     []*runtimeapi.FilesystemUsage{{}, fsUsage(img, 1000, 10, 0)},
					ContainerFilesystems: []*runtimeapi.FilesystemUsage{{Timestamp: at(100 * s)}},
				}
			},
			wantImage: [2]uint64{1000, 10}, wantContainer: [2]uint64{1000, 10},
		},
		{
			name: "no image filesystem is an error",
			resp: func(string, string) *runtimeapi.ImageFsInfoResponse {
				return &runtimeapi.ImageFsInfoResponse{}
			},
			wantErr: "cri ImageFsInfo: the runtime reported no image filesystem",
		},
		{
			name:    "a failing ImageFsInfo is an error naming the call",
			err:     status.Error(codes.Internal, "boom"),
			wantErr: "cri ImageFsInfo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgMount, ctrMount := t.TempDir(), t.TempDir()
			srv := crifake.New(t)
			if tt.resp != nil {
				srv.SetState(crifake.State{ImageFs: tt.resp(imgMount, ctrMount)})
			}
			srv.SetError("ImageFsInfo", tt.err)
			got, err := newTestProvider(t, srv, Options{}).ImageFsStats(t.Context())
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				if tt.err != nil {
					assert.Equal(t, codes.Internal, status.Code(err))
				}
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got.ImageFs)
			require.NotNil(t, got.ContainerFs)
			wantTime := received
			if tt.wantTime {
				wantTime = mt(100 * s)
			}
			assert.Equal(t, wantTime, got.ImageFs.Time)
			assert.Equal(t, wantTime, got.ContainerFs.Time)
			assert.Equal(t, tt.wantImage, [2]uint64{*got.ImageFs.UsedBytes, *got.ImageFs.InodesUsed})
			assert.Equal(t, tt.wantContainer, [2]uint64{*got.ContainerFs.UsedBytes, *got.ContainerFs.InodesUsed})
			assertCapacity(t, imgMount, got.ImageFs)
			ctr := imgMount
			if tt.wantCtrMount {
				ctr = ctrMount
			}
			assertCapacity(t, ctr, got.ContainerFs)
			assert.NotSame(t, got.ImageFs.UsedBytes, got.ContainerFs.UsedBytes, "the two blocks share no pointer")
		})
	}
}

// TestImageFsAnswerReused: the runtime's ImageFsInfo answer is used again for
// ImageFsMaxAge, then asked anew; a failed call is not kept; the statfs
// figures are read at every call.
func TestImageFsAnswerReused(t *testing.T) {
	mount := t.TempDir()
	srv := crifake.New(t)
	srv.SetState(crifake.State{ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		Timestamp: at(time.Second), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: mount}, UsedBytes: testkit.U64(1000), InodesUsed: testkit.U64(10),
	}}}})
	clock := fakeclock.New(t0.Add(200 * time.Second))
	p := newTestProvider(t, srv, Options{Now: clock.Now})
	used := func() uint64 {
		t.Helper()
		rs, err := p.ImageFsStats(t.Context())
		require.NoError(t, err)
		require.NotNil(t, rs.ImageFs.CapacityBytes, "statfs of the mountpoint")
		return *rs.ImageFs.UsedBytes
	}

	assert.Equal(t, uint64(1000), used())
	srv.SetState(crifake.State{ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		Timestamp: at(11 * time.Second), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: mount}, UsedBytes: testkit.U64(2000), InodesUsed: testkit.U64(20),
	}}}})
	clock.Advance(ImageFsMaxAge - time.Millisecond)
	assert.Equal(t, uint64(1000), used(), "within ImageFsMaxAge: the kept answer")
	assert.Equal(t, 1, srv.Calls("ImageFsInfo"))
	clock.Advance(time.Millisecond)
	assert.Equal(t, uint64(2000), used(), "at ImageFsMaxAge: asked again")
	assert.Equal(t, 2, srv.Calls("ImageFsInfo"))

	clock.Advance(ImageFsMaxAge)
	srv.SetError("ImageFsInfo", status.Error(codes.Unavailable, "restarting"))
	_, err := p.ImageFsStats(t.Context())
	require.Error(t, err, "an old answer is not served in place of the error")
	srv.SetError("ImageFsInfo", nil)
	assert.Equal(t, uint64(2000), used())
	assert.Equal(t, 4, srv.Calls("ImageFsInfo"), "the failed call kept nothing")
}
