package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/keptfile"
)

// BootTime reads the boot time (btime) from procRoot/stat.
func BootTime(procRoot string) (time.Time, error) {
	file := filepath.Join(procRoot, "stat")
	data, err := os.ReadFile(file)
	if err != nil {
		return time.Time{}, fmt.Errorf("read %s: %w", file, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: btime %q: %w", file, v, err)
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: no btime line", file)
}

// rlimit returns the node's pid limits: maxpid = min(kernel.pid_max,
// kernel.threads-max), curproc = the number of threads from loadavg, the
// three files read with read (the provider's kept descriptors: keptfile).
func rlimit(read keptfile.ReadFileFunc, procRoot string, now time.Time) (*statsapi.RlimitStats, error) {
	pidMax, err := readInt(read, filepath.Join(procRoot, "sys", "kernel", "pid_max"))
	if err != nil {
		return nil, err
	}
	threadsMax, err := readInt(read, filepath.Join(procRoot, "sys", "kernel", "threads-max"))
	if err != nil {
		return nil, err
	}
	cur, err := loadavgThreads(read, filepath.Join(procRoot, "loadavg"))
	if err != nil {
		return nil, err
	}
	maxPID := min(pidMax, threadsMax)
	return &statsapi.RlimitStats{Time: metav1.NewTime(now), MaxPID: &maxPID, NumOfRunningProcesses: &cur}, nil
}

func readInt(read keptfile.ReadFileFunc, file string) (int64, error) {
	data, err := read(file)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return v, nil
}

// loadavgThreads reads the total of the "running/total" field of loadavg.
func loadavgThreads(read keptfile.ReadFileFunc, file string) (int64, error) {
	data, err := read(file)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	f := strings.Fields(string(data))
	if len(f) < 4 {
		return 0, fmt.Errorf("%s: want at least 4 fields, got %q", file, data)
	}
	_, total, ok := strings.Cut(f[3], "/")
	if !ok {
		return 0, fmt.Errorf("%s: field %q is not running/total", file, f[3])
	}
	v, err := strconv.ParseInt(total, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

// FsStats is statfs of the filesystem holding dir: capacity, available,
// used and inodes.
func FsStats(dir string, now time.Time) (*statsapi.FsStats, error) {
	st, err := statfs(dir)
	if err != nil {
		return nil, err
	}
	bs := uint64(st.Bsize)
	capacity, avail, used := st.Blocks*bs, st.Bavail*bs, (st.Blocks-st.Bfree)*bs
	inodes, free := st.Files, st.Ffree
	inodesUsed := inodes - min(inodes, free)
	return &statsapi.FsStats{
		Time:           metav1.NewTime(now),
		CapacityBytes:  &capacity,
		AvailableBytes: &avail,
		UsedBytes:      &used,
		Inodes:         &inodes,
		InodesFree:     &free,
		InodesUsed:     &inodesUsed,
	}, nil
}

func statfs(dir string) (*unix.Statfs_t, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return &st, nil
}

// existingDir returns dir, or its nearest existing parent when dir does not
// exist yet: the filesystem it will live on.
func existingDir(dir string) (string, error) {
	d := filepath.Clean(dir)
	for {
		_, err := os.Stat(d)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("stat %s: %w", d, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("stat %s: %w", dir, err)
		}
		d = parent
	}
}
