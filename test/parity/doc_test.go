package parity

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/kubelet-parity.md from the rules")

const (
	docPath  = "../../docs/kubelet-parity.md"
	docBegin = "<!-- BEGIN rules: generated from test/parity/rules_test.go by `go -C test test ./parity -run TestDocListsTheRules -update`; do not edit -->"
	docEnd   = "<!-- END rules -->"
)

// TestDocListsTheRules checks that docs/kubelet-parity.md lists exactly the
// rules the parity test applies: the table is generated from them.
func TestDocListsTheRules(t *testing.T) {
	data, err := os.ReadFile(docPath)
	require.NoError(t, err)
	doc := string(data)
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	require.True(t, i >= 0 && j > i, "%s has no %q … %q section", docPath, docBegin, docEnd)
	got := doc[i+len(docBegin) : j]
	want := "\n" + rulesTable(rules)
	if *update {
		require.NoError(t, os.WriteFile(docPath, []byte(doc[:i+len(docBegin)]+want+doc[j:]), 0o644))
		return
	}
	require.Equal(t, want, got, "%s is out of date: go -C test test ./parity -run TestDocListsTheRules -update", docPath)
}

// rulesTable renders the rules as a Markdown table.
func rulesTable(rs []Rule) string {
	var b strings.Builder
	b.WriteString("| Field | Compared as | Tolerance | On | Why |\n|---|---|---|---|---|\n")
	for _, r := range rs {
		on := "every node"
		if len(r.When) > 0 {
			on = strings.Join(r.When, ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.Field, r.Kind, tolerance(r), on, cell(r.Why))
	}
	return b.String()
}

func tolerance(r Rule) string {
	switch r.Kind {
	case Counter, Gauge:
	case Time:
		return "± " + num(r.Abs) + " s"
	default:
		return "—"
	}
	var parts []string
	if r.Rel != 0 {
		parts = append(parts, num(r.Rel*100)+" %")
	}
	switch {
	case r.Abs == 0:
	case r.Unit == "B" && r.Abs >= MiB:
		parts = append(parts, num(r.Abs/MiB)+" MiB")
	case r.Unit == "nanocores" && r.Abs >= 1e6:
		parts = append(parts, num(r.Abs/1e6)+" millicores")
	default:
		parts = append(parts, strings.TrimSpace(num(r.Abs)+" "+r.Unit))
	}
	out := "none"
	if len(parts) > 0 {
		out = "± " + strings.Join(parts, " + ")
	}
	if r.Scale != 0 {
		out = "ours = " + num(r.Scale) + " × the kubelet's"
		if len(parts) > 0 {
			out += ", ± " + strings.Join(parts, " + ")
		}
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
