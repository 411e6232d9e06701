// Package keptfile reads the kernel's pseudo-files a scrape reads every time
// — cgroup counters, cgroup.procs, /proc files — through descriptors kept
// open from one read to the next, with pread from offset 0: opening such a
// file costs about five times what reading an open one again does, and a
// seq_file read from offset 0 generates the file anew, as a fresh open does
// (a cgroup v1 process list excepted: ReadFileAfter).
//
// Files are kept until a Sweep finds them unread since the one before, so
// nothing outlives its cgroup by more than one period of the caller's; each
// open file holds a page of kernel memory (its seq_file buffer). Beyond a
// cap, a file is opened for each read.
package keptfile

import (
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// Files keeps files open between reads. Not safe for concurrent use.
type Files struct {
	fds  map[string]keptFD // path → open file
	gen  uint64
	buf  []byte
	max  int
	open int
}

// ReadFileFunc reads a whole file: os.ReadFile, or a Files' ReadFile.
type ReadFileFunc func(file string) ([]byte, error)

type keptFD struct {
	fd  int
	gen uint64    // the period (between Sweeps) that last read it
	at  time.Time // when, for ReadFileAfter
}

// ProcsListKept is how long cgroup v1 keeps a cgroup's process list after a
// read (CGROUP_PIDLIST_DESTROY_DELAY, one second), with a margin: a kept
// cgroup.procs last read more recently is opened anew (ReadFileAfter).
const ProcsListKept = 2 * time.Second

// ProcsReader reads cgroup.procs files through k: on cgroup v1 with
// ReadFileAfter and ProcsListKept, on v2 (which lists a cgroup's processes
// anew whenever a descriptor reads from offset 0) with ReadFile.
func (k *Files) ProcsReader(v2 bool) ReadFileFunc {
	if v2 {
		return k.ReadFile
	}
	return func(file string) ([]byte, error) { return k.ReadFileAfter(file, ProcsListKept) }
}

// New returns Files that keeps at most maxOpen files open.
func New(maxOpen int) *Files {
	return &Files{fds: map[string]keptFD{}, buf: make([]byte, 8<<10), max: maxOpen}
}

// ReadFile returns the contents of file, as os.ReadFile does (a missing file's
// error is fs.ErrNotExist), valid until the next ReadFile.
func (k *Files) ReadFile(file string) ([]byte, error) { return k.ReadFileAfter(file, 0) }

// ReadFileAfter is ReadFile, but reads through the kept descriptor only when
// it was last read at least quiet ago, and opens the file anew otherwise. A
// cgroup v1 cgroup.procs needs it: the kernel keeps a cgroup's process list
// for a second after a descriptor last read it and serves that list again to
// the same descriptor (cgroup_pidlist_find), so one read more often than that
// would never see a process come or go; a fresh open always lists anew.
func (k *Files) ReadFileAfter(file string, quiet time.Duration) ([]byte, error) {
	now := time.Time{}
	if quiet > 0 {
		now = time.Now()
	}
	if e, ok := k.fds[file]; ok {
		if quiet > 0 && now.Sub(e.at) < quiet {
			k.forget(file, e.fd)
		} else if b, err := PreadAll(e.fd, &k.buf); err == nil {
			k.fds[file] = keptFD{fd: e.fd, gen: k.gen, at: now}
			return b, nil
		} else {
			// The cgroup went (ENODEV) or was made anew under the same
			// name: open the file afresh once.
			k.forget(file, e.fd)
		}
	}
	fd, err := Open(file)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: file, Err: err}
	}
	b, err := PreadAll(fd, &k.buf)
	if err != nil || k.open >= k.max {
		_ = unix.Close(fd)
	} else {
		k.fds[file] = keptFD{fd: fd, gen: k.gen, at: now}
		k.open++
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: file, Err: err}
	}
	return b, nil
}

func (k *Files) forget(file string, fd int) {
	_ = unix.Close(fd)
	delete(k.fds, file)
	k.open--
}

// Sweep closes the files not read since the last Sweep.
func (k *Files) Sweep() {
	for file, e := range k.fds {
		if e.gen != k.gen {
			k.forget(file, e.fd)
		}
	}
	k.gen++
}

// Close closes every kept file; k stays usable.
func (k *Files) Close() {
	for file, e := range k.fds {
		k.forget(file, e.fd)
	}
}

// Open opens p read-only, close-on-exec, retrying on EINTR.
func Open(p string) (int, error) {
	for {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// PreadAll reads a whole file from offset 0 into *buf, growing it for a file
// that fills it; the result is valid until the next read into *buf.
func PreadAll(fd int, buf *[]byte) ([]byte, error) {
	for {
		n, err := unix.Pread(fd, *buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n < len(*buf) {
			return (*buf)[:n], nil
		}
		*buf = make([]byte, 2*len(*buf))
	}
}
