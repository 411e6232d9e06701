package containerdenv

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Kill kills the instance's containerd with SIGKILL, as a crash would: its
// shims and containers keep running, and its socket file stays behind with
// nobody listening. Restart brings it back; Close still tears it all down.
func (e *Env) Kill() error {
	p := paths{e.Dir}
	pid, ok := readPID(p.pidFile())
	if !ok || !isOurDaemon(pid, p) {
		return errors.New("kill containerd: the instance's daemon is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill containerd %d: %w", pid, err)
	}
	if !waitGone(func() bool { return isOurDaemon(pid, p) }, 10*time.Second) {
		return fmt.Errorf("kill containerd %d: still running after SIGKILL", pid)
	}
	return nil
}

// Restart starts the instance's containerd again with the same configuration,
// so on the same socket path with a new socket file, records its PID for the
// teardown, and waits until its CRI is ready. The pods it ran before are
// still there: their shims outlived the daemon.
func (e *Env) Restart(ctx context.Context) error {
	if err := startDaemon(paths{e.Dir}, e.Binaries, e.CgroupDriver); err != nil {
		return err
	}
	return e.waitReady(ctx)
}
