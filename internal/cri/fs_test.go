package cri

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// TestContainerFilesystems checks the rootfs and logs of a container: used
// bytes from the runtime or the log files, capacity from statfs.
func TestContainerFilesystems(t *testing.T) {
	const s = time.Second
	type want struct {
		rootfsUsed, rootfsInodes *uint64
		rootfsCapacity           bool
		logsUsed, logsInodes     *uint64 // nil logsUsed: no Logs block
	}
	tests := []struct {
		name     string
		layer    func(mount string) *runtimeapi.FilesystemUsage
		logFiles map[string]int // file under the container's log dir → size; "sub/" makes a directory
		want     want
	}{
		{
			name: "rootfs: used from the writable layer, capacity from statfs of its mountpoint",
			layer: func(mount string) *runtimeapi.FilesystemUsage {
				return &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: mount}, UsedBytes: u64(4096), InodesUsed: u64(12)}
			},
			want: want{rootfsUsed: p64(4096), rootfsInodes: p64(12), rootfsCapacity: true},
		},
		{
			name: "rootfs: a mountpoint that does not exist gives used bytes only",
			layer: func(string) *runtimeapi.FilesystemUsage {
				return &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/nonexistent/statssummary"}, UsedBytes: u64(4096)}
			},
			want: want{rootfsUsed: p64(4096)},
		},
		{
			name: "rootfs: no filesystem id gives used bytes only",
			layer: func(string) *runtimeapi.FilesystemUsage {
				return &runtimeapi.FilesystemUsage{Timestamp: at(100 * s), UsedBytes: u64(8192), InodesUsed: u64(3)}
			},
			want: want{rootfsUsed: p64(8192), rootfsInodes: p64(3)},
		},
		{
			name:     "logs: regular files directly in the directory, subdirectories skipped",
			logFiles: map[string]int{"0.log": 10000, "1.log.20261101-120000.gz": 3000, "sub/": 0, "sub/2.log": 50000},
			// 10000 and 3000 bytes take 3 and 1 blocks of 4 KiB on this ext4.
			want: want{logsUsed: p64(16384), logsInodes: p64(2)},
		},
		{
			name:     "logs: an empty directory is 0 used, with capacity",
			logFiles: map[string]int{},
			want:     want{logsUsed: p64(0), logsInodes: p64(0)},
		},
		{
			name: "logs: no directory, no logs block",
			want: want{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount := t.TempDir()
			logRoot := t.TempDir()
			logDir := filepath.Join(logRoot, "shop_a_uid-a", "app")
			if tt.logFiles != nil {
				require.NoError(t, os.MkdirAll(logDir, 0o755))
				for name, size := range tt.logFiles {
					path := filepath.Join(logDir, name)
					if strings.HasSuffix(name, "/") {
						require.NoError(t, os.MkdirAll(path, 0o755))
						continue
					}
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("x", size)), 0o644))
				}
			}
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
			res, err := newTestProvider(t, srv, Options{PodLogsDir: logRoot}).PodStats(t.Context())
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
			if tt.want.logsUsed == nil {
				assert.Nil(t, c.Logs)
				return
			}
			require.NotNil(t, c.Logs)
			assert.Equal(t, received, c.Logs.Time)
			assert.Equal(t, tt.want.logsUsed, c.Logs.UsedBytes)
			assert.Equal(t, tt.want.logsInodes, c.Logs.InodesUsed)
			assertCapacity(t, logDir, c.Logs)
		})
	}
}

func TestContainerLogsDir(t *testing.T) {
	pod := func(ns, name, uid string) statsapi.PodReference {
		return statsapi.PodReference{Namespace: ns, Name: name, UID: uid}
	}
	tests := []struct {
		name      string
		root      string
		pod       statsapi.PodReference
		container string
		want      string
	}{
		{name: "kubelet layout", root: "/var/log/pods", pod: pod("shop", "web-0", "1234"), container: "nginx", want: "/var/log/pods/shop_web-0_1234/nginx"},
		{name: "a slash in a name could leave the root", root: "/var/log/pods", pod: pod("shop", "../../etc", "1234"), container: "nginx", want: ""},
		{name: "a dot-dot container", root: "/var/log/pods", pod: pod("shop", "web-0", "1234"), container: "..", want: ""},
		{name: "an empty part", root: "/var/log/pods", pod: pod("", "web-0", "1234"), container: "nginx", want: ""},
		{name: "root with a trailing slash", root: "/var/log/pods/", pod: pod("shop", "web-0", "1234"), container: "nginx", want: "/var/log/pods/shop_web-0_1234/nginx"},
		{name: "unclean root", root: "/var/log/../log//pods", pod: pod("shop", "web-0", "1234"), container: "nginx", want: "/var/log/pods/shop_web-0_1234/nginx"},
		{name: "filesystem root", root: "/", pod: pod("shop", "web-0", "1234"), container: "nginx", want: "/shop_web-0_1234/nginx"},
		{name: "relative root", root: "logs", pod: pod("shop", "web-0", "1234"), container: "nginx", want: "logs/shop_web-0_1234/nginx"},
		{name: "empty root", root: "", pod: pod("shop", "web-0", "1234"), container: "nginx", want: "shop_web-0_1234/nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tt.root
			assert.Equal(t, tt.want, containerLogsDir(root, tt.pod, tt.container))
			if tt.want != "" {
				podDir := tt.pod.Namespace + "_" + tt.pod.Name + "_" + tt.pod.UID
				assert.Equal(t, filepath.Join(root, podDir, tt.container), tt.want, "same as filepath.Join")
			}
		})
	}
}

// TestImageFsStats checks the runtime's image and container filesystems.
func TestImageFsStats(t *testing.T) {
	const s = time.Second
	fsUsage := func(mount string, used, inodes uint64, ts int64) *runtimeapi.FilesystemUsage {
		return &runtimeapi.FilesystemUsage{Timestamp: ts, FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: mount}, UsedBytes: u64(used), InodesUsed: u64(inodes)}
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

func TestReadDirUnsorted(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"1.log", "0.log", "2.log.20261101-120000"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))

	entries, err := readDirUnsorted(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"0.log", "1.log", "2.log.20261101-120000", "sub"}, names)

	_, err = readDirUnsorted(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)

	_, err = readDirUnsorted(filepath.Join(dir, "0.log"))
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe, "not a directory")
	assert.Equal(t, filepath.Join(dir, "0.log"), pe.Path)
	assert.ErrorIs(t, err, unix.ENOTDIR)
}

// With SkipLogs the provider leaves log usage to another source: a container
// with a log directory gets no Logs block, and its rootfs is still read.
func TestSkipLogsLeavesLogsUnset(t *testing.T) {
	logRoot := t.TempDir()
	logDir := filepath.Join(logRoot, "shop_a_uid-a", "app")
	require.NoError(t, os.MkdirAll(logDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(logDir, "0.log"), []byte("log line\n"), 0o644))
	srv := crifake.New(t)
	srv.SetState(crifake.State{
		Sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", runtimeapi.PodSandboxState_SANDBOX_READY, 0)},
		Containers: []*runtimeapi.Container{container("c1", "sb-a", "app", runtimeapi.ContainerState_CONTAINER_RUNNING, 1)},
		ContainerStats: []*runtimeapi.ContainerStats{{
			Attributes:    &runtimeapi.ContainerAttributes{Id: "c1"},
			WritableLayer: &runtimeapi.FilesystemUsage{Timestamp: 1, UsedBytes: &runtimeapi.UInt64Value{Value: 4096}},
		}},
	})
	for _, skip := range []bool{false, true} {
		res, err := newTestProvider(t, srv, Options{PodLogsDir: logRoot, SkipLogs: skip}).PodStats(t.Context())
		require.NoError(t, err)
		require.Len(t, res.Pods, 1)
		require.Len(t, res.Pods[0].Containers, 1)
		c := res.Pods[0].Containers[0]
		assert.NotNil(t, c.Rootfs, "skip=%v", skip)
		assert.Equal(t, skip, c.Logs == nil, "skip=%v: logs %+v", skip, c.Logs)
	}
}
