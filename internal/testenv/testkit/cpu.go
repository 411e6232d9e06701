package testkit

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUPerOp reports, when the returned function is called after b's loop, the
// process CPU time per iteration as "cpu-ns/op". On a shared machine it moves
// less than ns/op, which also counts the time spent waiting for a core. It
// counts every goroutine of the process: the CRI test server's and the
// garbage collector's too.
func CPUPerOp(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
