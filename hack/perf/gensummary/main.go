// Command gensummary writes the Summary JSON of every synthetic benchmark node
// (benchnode.Sizes) into a directory, as the JSON endpoint serves it, so the
// same nodes can be fed to other tools. `make bench-data` (go generate
// ./internal/benchnode) runs it into testdata/bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/statssummary/statssummary/internal/benchnode"
)

func main() {
	out := flag.String("out", "testdata/bench", "directory to write pods-<n>-containers-<m>.json into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gensummary:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, n := range benchnode.Sizes {
		b, err := benchnode.SummaryJSON(context.Background(), n)
		if err != nil {
			return err
		}
		path := filepath.Join(out, benchnode.FileName(n))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s\t%d bytes\n", path, len(b))
	}
	return nil
}
