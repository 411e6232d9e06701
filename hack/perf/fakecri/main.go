// Command fakecri serves a synthetic node (crifake.Synthetic) as a CRI runtime
// on a unix socket until it is interrupted, for measuring the collector in
// steady state without a runtime running that many pods. Sample times follow
// the clock (the state is renewed every -refresh), so rates and times move as
// a runtime's would; the counters themselves do not.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/statssummary/statssummary/internal/crifake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakecri:", err)
		os.Exit(1)
	}
}

func run() error {
	var n crifake.SyntheticNode
	socket := flag.String("socket", "/tmp/statssummary-fakecri.sock", "unix socket to serve on")
	flag.IntVar(&n.Pods, "pods", 110, "pods on the synthetic node")
	flag.IntVar(&n.ContainersPerPod, "containers", 3, "containers per pod")
	refresh := flag.Duration("refresh", 5*time.Second, "how often sample times move to now")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_ = os.Remove(*socket)
	srv, err := crifake.Start(*socket)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("fakecri: %d pods × %d containers on unix://%s\n", n.Pods, n.ContainersPerPod, *socket)
	t := time.NewTicker(*refresh)
	defer t.Stop()
	for {
		n.At = time.Now()
		srv.SetState(crifake.Synthetic(n))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
