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

func devOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Dev
	}
	return 0
}
