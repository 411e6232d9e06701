// Command kubelet is the upstream kubelet v1.37.2, built from the Go module
// proxy so that the parity suite (test/parity) has the real kubelet to compare
// our Summary with. It is the body of k8s.io/kubernetes' cmd/kubelet/kubelet.go
// in a module of its own (hack/kubelet/go.mod), so that k8s.io/kubernetes never
// enters the product's go.mod. hack/runtimes/kubelet.sh builds it.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // for client metric registration
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	command := app.NewKubeletCommand(context.Background())
	code := cli.Run(command)
	os.Exit(code)
}
