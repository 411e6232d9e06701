// Command helm renders the statssummary chart with helm's own Go packages
// (helm.sh/helm/v3, the install action in client-only dry-run mode, as `helm
// template` runs it), in a module of its own so that helm never enters the
// product's go.mod.
//
//	go run . [-f values.yaml]... [-set key=value]... [-release R] [-namespace N] [-out-dir DIR] CHART
//
// Without -out-dir it prints the manifest stream; with it, it writes one file
// per template into DIR (what `make manifests` does into deploy/).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "helm:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("helm", flag.ContinueOnError)
	var r Request
	fs.Var((*listFlag)(&r.ValueFiles), "f", "a values file (repeatable)")
	fs.Var((*listFlag)(&r.Set), "set", "key=value, as helm's --set (repeatable)")
	fs.StringVar(&r.Release, "release", DefaultRelease, "release name")
	fs.StringVar(&r.Namespace, "namespace", DefaultNamespace, "namespace")
	outDir := fs.String("out-dir", "", "write one file per template here instead of printing")
	header := fs.String("header-chart", "", "the chart's path as the generated files' header names it (default: CHART)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one chart directory, got %q", fs.Args())
	}
	r.Chart = fs.Arg(0)
	docs, err := Render(r)
	if err != nil {
		return err
	}
	if *outDir == "" {
		for _, d := range docs {
			fmt.Printf("---\n# Source: %s\n%s", d.Source, d.YAML)
		}
		return nil
	}
	name := *header
	if name == "" {
		name = r.Chart
	}
	return WriteFiles(*outDir, Files(docs, Header(name)))
}
