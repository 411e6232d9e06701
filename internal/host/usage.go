package host

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// usage is a directory tree's disk use: bytes allocated and inodes.
type usage struct {
	bytes  uint64
	inodes uint64
}

// diskUsage walks root, adding each file's allocated blocks (as du does) and
// counting inodes; hard links count once. It does not cross into other
// filesystems: a volume mounted below root is measured on its own. It stops
// with ctx's error when ctx ends.
func diskUsage(ctx context.Context, root string) (usage, error) {
	var u usage
	rootInfo, err := os.Lstat(root)
	if err != nil {
		return u, err
	}
	rootDev := devOf(rootInfo)
	seen := map[[2]uint64]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed during the walk
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if d.IsDir() && path != root && st.Dev != rootDev {
			return filepath.SkipDir
		}
		key := [2]uint64{st.Dev, st.Ino}
		if seen[key] {
			return nil
		}
		seen[key] = true
		u.inodes++
		u.bytes += uint64(st.Blocks) * 512
		return nil
	})
	return u, err
}

// add adds v to u.
func (u *usage) add(v usage) {
	u.bytes += v.bytes
	u.inodes += v.inodes
}

// filesUsage is the usage of the files directly in dir, each measured on its
// own as the kubelet measures log files (volume.NewMetricsDu per file): a
// file's allocated blocks and one inode; a hard link between two of them
// counts twice. Subdirectories and dir itself are not counted. A file gone
// since the listing counts nothing.
func filesUsage(dir string) (usage, error) {
	var u usage
	entries, err := os.ReadDir(dir)
	if err != nil {
		return u, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		f, err := fileUsage(filepath.Join(dir, e.Name()))
		if err != nil {
			return u, err
		}
		u.add(f)
	}
	return u, nil
}

// fileUsage is one file's allocated bytes and its inode (a symbolic link's
// own, not its target's); zero for a file removed since it was listed.
func fileUsage(path string) (usage, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return usage{}, nil
	}
	if err != nil {
		return usage{}, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return usage{bytes: uint64(info.Size()), inodes: 1}, nil
	}
	return usage{bytes: uint64(st.Blocks) * 512, inodes: 1}, nil
}

func devOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Dev
	}
	return 0
}
