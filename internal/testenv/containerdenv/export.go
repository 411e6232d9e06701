package containerdenv

// Teardown steps other test environments share (internal/testenv/kubeletenv
// removes what a kubelet made with them): the same code the instance's own
// teardown runs.

// CgroupMounts returns the mount points of every cgroup hierarchy (v1
// controllers, named ones and the unified one).
func CgroupMounts() ([]string, error) {
	return mountPoints(func(_, fs string) bool { return fs == "cgroup" || fs == "cgroup2" })
}

// RemoveCgroupTree removes a cgroup directory and every cgroup below it,
// children first; a cgroup that is already gone is no error.
func RemoveCgroupTree(dir string) error { return removeCgroupTree(dir) }

// UnmountUnder unmounts every mount below dir, deepest first.
func UnmountUnder(dir string) error { return unmountUnder(dir) }

// Terminate sends pid SIGTERM, then SIGKILL after 10 s, and waits until alive
// says the process is gone.
func Terminate(pid int, alive func() bool) error { return terminate(pid, alive) }

// ProcessArgs returns a process's command line; nil when it is gone.
func ProcessArgs(pid int) []string { return cmdline(pid) }

// ProcessAlive tells whether a process of that PID exists.
func ProcessAlive(pid int) bool { return processAlive(pid) }

// ReadPID reads a PID file; false when it is missing or holds no PID.
func ReadPID(path string) (int, bool) { return readPID(path) }
