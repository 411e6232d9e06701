package cadvisor

import (
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// keptFiles keeps the files housekeeping reads at every scrape — the lean
// reads' counters, each cgroup's cgroup.procs, each container's memory limit,
// a cgroup's pressure — open from one housekeeping to the next and reads them
// again with pread, as Files does for the counters: opening a cgroup file
// costs about five times what reading an open one again does, and on the
// partial CRI stats path every pod cgroup is read at every scrape (some
// fourteen files a pod of three containers on cgroup v1). A file not read in
// a housekeeping is closed at its end (sweep), so nothing outlives its
// cgroup by more than one housekeeping; each open file holds a page of kernel
// memory (its seq_file buffer). Beyond max open files a file is opened for
// each read.
//
// A keptFiles is not safe for concurrent use: the provider reads under its
// housekeeping lock.
type keptFiles struct {
	fds  map[string]keptFD // path → open file
	gen  uint64
	buf  []byte
	max  int
	open int
}

// readFileFunc reads a whole file: os.ReadFile, or a keptFiles' ReadFile.
type readFileFunc func(file string) ([]byte, error)

type keptFD struct {
	fd  int
	gen uint64    // the housekeeping that last read it
	at  time.Time // when, for ReadFileAfter
}

// maxKeptFiles caps the files a provider keeps open: 110 pods of three
// containers need about 1,600 on cgroup v1.
const maxKeptFiles = 4096

// procsListKept is how long cgroup v1 keeps a cgroup's process list after a
// read (CGROUP_PIDLIST_DESTROY_DELAY, one second), with a margin: a kept
// cgroup.procs last read more recently is opened anew (ReadFileAfter).
const procsListKept = 2 * time.Second

// procsReader reads cgroup.procs files through k: on cgroup v1 with
// ReadFileAfter and procsListKept, on v2 (which lists a cgroup's processes
// anew whenever a descriptor reads from offset 0) with ReadFile.
func (k *keptFiles) procsReader(v2 bool) readFileFunc {
	if v2 {
		return k.ReadFile
	}
	return func(file string) ([]byte, error) { return k.ReadFileAfter(file, procsListKept) }
}

func newKeptFiles(maxOpen int) *keptFiles {
	return &keptFiles{fds: map[string]keptFD{}, buf: make([]byte, 8<<10), max: maxOpen}
}

// ReadFile returns the contents of file, as os.ReadFile does (a missing file's
// error is fs.ErrNotExist), valid until the next ReadFile.
func (k *keptFiles) ReadFile(file string) ([]byte, error) { return k.ReadFileAfter(file, 0) }

// ReadFileAfter is ReadFile, but reads through the kept descriptor only when
// it was last read at least quiet ago, and opens the file anew otherwise. A
// cgroup v1 cgroup.procs needs it: the kernel keeps a cgroup's process list
// for a second after a descriptor last read it and serves that list again to
// the same descriptor (cgroup_pidlist_find), so one read more often than that
// would never see a process come or go; a fresh open always lists anew.
func (k *keptFiles) ReadFileAfter(file string, quiet time.Duration) ([]byte, error) {
	now := time.Time{}
	if quiet > 0 {
		now = time.Now()
	}
	if e, ok := k.fds[file]; ok {
		if quiet > 0 && now.Sub(e.at) < quiet {
			k.forget(file, e.fd)
		} else if b, err := preadAll(e.fd, &k.buf); err == nil {
			k.fds[file] = keptFD{fd: e.fd, gen: k.gen, at: now}
			return b, nil
		} else {
			// The cgroup went (ENODEV) or was made anew under the same
			// name: open the file afresh once.
			k.forget(file, e.fd)
		}
	}
	fd, err := openFile(file)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: file, Err: err}
	}
	b, err := preadAll(fd, &k.buf)
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

func (k *keptFiles) forget(file string, fd int) {
	_ = unix.Close(fd)
	delete(k.fds, file)
	k.open--
}

// sweep closes the files not read since the last sweep and starts a new
// housekeeping.
func (k *keptFiles) sweep() {
	for file, e := range k.fds {
		if e.gen != k.gen {
			k.forget(file, e.fd)
		}
	}
	k.gen++
}

// closeAll closes every kept file.
func (k *keptFiles) closeAll() {
	for file, e := range k.fds {
		k.forget(file, e.fd)
	}
}
