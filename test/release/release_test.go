// Package release checks that the repository names one OpenTelemetry Collector
// release everywhere a build takes collector modules from: the ocb manifest
// (builder-config.yaml), the ocb version pinned in tools/go.mod, and the go.mod
// of every module a collector build or a test links (the root domain module,
// the receiver module, the test module). A release is one core version pair
// (v0.x for the unstable modules, v1.x for the stable ones) and one contrib
// version; a module at another version would be a second release in one build.
package release

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
	"sigs.k8s.io/yaml"
)

const (
	root        = "../.."
	coreModules = "go.opentelemetry.io/collector"
	contrib     = "github.com/open-telemetry/opentelemetry-collector-contrib"
	ocb         = "go.opentelemetry.io/collector/cmd/builder"
	// mdatagen is pinned at the newest version that builds here (DESIGN:
	// v0.159.0); its output compiles against the release, so it is no part of it.
	mdatagen = "go.opentelemetry.io/collector/cmd/mdatagen"
)

// linkedModules are the go.mod files whose requirements end up in a build of
// the collector or of the tests that stand for it.
var linkedModules = []string{
	"go.mod",
	"receiver/statssummaryreceiver/go.mod",
	"test/go.mod",
}

// requirement is one module at one version, and where it was named.
type requirement struct {
	path, version, where string
}

// family is the release family a collector module belongs to: contrib, core
// v0 or core v1; "" for any other module.
func family(path, version string) string {
	switch {
	case path == contrib || strings.HasPrefix(path, contrib+"/"):
		return "contrib"
	case path == coreModules || strings.HasPrefix(path, coreModules+"/"):
		if path == mdatagen {
			return ""
		}
		if strings.HasPrefix(version, "v0.") {
			return "core v0"
		}
		return "core v1"
	}
	return ""
}

func goModRequirements(t *testing.T, rel string) []requirement {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	require.NoError(t, err)
	f, err := modfile.ParseLax(rel, data, nil)
	require.NoError(t, err)
	var reqs []requirement
	for _, r := range f.Require {
		reqs = append(reqs, requirement{r.Mod.Path, r.Mod.Version, rel})
	}
	return reqs
}

// builderConfig is the part of ocb's manifest that names modules.
type builderConfig struct {
	Receivers  []struct{ GoMod string } `json:"receivers"`
	Processors []struct{ GoMod string } `json:"processors"`
	Exporters  []struct{ GoMod string } `json:"exporters"`
	Extensions []struct{ GoMod string } `json:"extensions"`
	Connectors []struct{ GoMod string } `json:"connectors"`
	Providers  []struct{ GoMod string } `json:"providers"`
}

func builderRequirements(t *testing.T) []requirement {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	require.NoError(t, err)
	var cfg builderConfig
	require.NoError(t, yaml.Unmarshal(data, &cfg))
	var reqs []requirement
	for _, list := range [][]struct{ GoMod string }{cfg.Receivers, cfg.Processors, cfg.Exporters, cfg.Extensions, cfg.Connectors, cfg.Providers} {
		for _, c := range list {
			fields := strings.Fields(c.GoMod)
			require.Len(t, fields, 2, "builder-config.yaml: gomod %q is not 'module version'", c.GoMod)
			reqs = append(reqs, requirement{fields[0], fields[1], "builder-config.yaml"})
		}
	}
	require.NotEmpty(t, reqs, "builder-config.yaml names no component")
	return reqs
}

// TestOneCollectorRelease fails when two versions of one release family are
// named anywhere a build takes them from, and says where each was named.
func TestOneCollectorRelease(t *testing.T) {
	builder := builderRequirements(t)
	reqs := slices.Clone(builder)
	for _, m := range linkedModules {
		reqs = append(reqs, goModRequirements(t, m)...)
	}
	// ocb's own version is the release it generates code for.
	for _, r := range goModRequirements(t, "tools/go.mod") {
		if r.path == ocb {
			reqs = append(reqs, r)
		}
	}

	seen := map[string]map[string][]string{} // family → version → "path (where)"
	for _, r := range reqs {
		fam := family(r.path, r.version)
		if fam == "" {
			continue
		}
		if seen[fam] == nil {
			seen[fam] = map[string][]string{}
		}
		seen[fam][r.version] = append(seen[fam][r.version], r.path+" ("+r.where+")")
	}
	for _, fam := range []string{"core v0", "core v1", "contrib"} {
		require.Contains(t, seen, fam, "no %s collector module named anywhere: the check would be empty", fam)
	}
	for fam, versions := range seen {
		if len(versions) == 1 {
			continue
		}
		var lines []string
		for v, where := range versions {
			sort.Strings(where)
			shown := where[:min(3, len(where))]
			more := ""
			if len(where) > len(shown) {
				more = fmt.Sprintf(" and %d more", len(where)-len(shown))
			}
			lines = append(lines, v+": "+strings.Join(shown, ", ")+more)
		}
		sort.Strings(lines)
		assert.Failf(t, "more than one collector release", "%s modules at %d versions:\n%s",
			fam, len(versions), strings.Join(lines, "\n"))
	}
	// The receiver is built by ocb from its own module, not from the root one.
	var receiverNamed bool
	for _, r := range builder {
		if r.path == "github.com/statssummary/statssummary/receiver/statssummaryreceiver" {
			receiverNamed = true
		}
		assert.NotEqual(t, "github.com/statssummary/statssummary", r.path,
			"builder-config.yaml takes a component from the root module, which holds the repository's test harness too")
	}
	assert.True(t, receiverNamed, "builder-config.yaml names the receiver's own module")
}

// TestFamilies pins what counts as one release family, so that the check
// above cannot pass by classifying every module as "other".
func TestFamilies(t *testing.T) {
	for _, tc := range []struct{ path, version, want string }{
		{"go.opentelemetry.io/collector/receiver", "v1.71.0", "core v1"},
		{"go.opentelemetry.io/collector/scraper", "v0.165.0", "core v0"},
		{ocb, "v0.165.0", "core v0"},
		{mdatagen, "v0.159.0", ""},
		{contrib + "/pkg/golden", "v0.165.1", "contrib"},
		{"go.opentelemetry.io/otel", "v1.47.0", ""},
		{"go.opentelemetry.io/collectorx", "v0.1.0", ""},
	} {
		assert.Equal(t, tc.want, family(tc.path, tc.version), tc.path)
	}
}
