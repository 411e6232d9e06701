package benchnode

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/server"
)

func TestAssembleReportsEveryPodAndContainer(t *testing.T) {
	n := crifake.SyntheticNode{Pods: 7, ContainersPerPod: 3}
	a, err := Assemble(t.Context(), n)
	require.NoError(t, err)
	assert.Equal(t, NodeName, a.Summary.Node.NodeName)
	require.Len(t, a.Summary.Pods, 7)
	for _, p := range a.Summary.Pods {
		assert.Len(t, p.Containers, 3, p.PodRef.Name)
		assert.NotNil(t, p.Network, "strict path: the sandbox's network")
	}
	assert.Len(t, a.Containers, 7)
	assert.Equal(t, 21, a.Containers.Len())
}

// TestExportIsGenerated checks that testdata/bench holds what the generator
// writes today: regenerate with `make bench-data` after changing the
// synthetic node or the encoding.
func TestExportIsGenerated(t *testing.T) {
	for _, n := range Sizes {
		if testing.Short() && n.Pods > 110 {
			continue
		}
		t.Run(SizeName(n), func(t *testing.T) {
			got, err := SummaryJSON(t.Context(), n)
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bench", FileName(n)))
			require.NoError(t, err, "run make bench-data")
			assert.True(t, string(want) == string(got), "testdata/bench/%s is stale: run make bench-data", FileName(n))
		})
	}
}

// TestStaticServesTheHandlersBytes checks the floor serves what the Summary
// handler serves, in both encodings, and that a load run counts every request.
func TestStaticServesTheHandlersBytes(t *testing.T) {
	a, err := Assemble(t.Context(), crifake.SyntheticNode{Pods: 3, ContainersPerPod: 2})
	require.NoError(t, err)
	store, err := Store(t.Context(), a)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	h, err := server.NewHandler(server.Options{Store: store, MaxAge: time.Hour})
	require.NoError(t, err)
	served := httptest.NewServer(h)
	t.Cleanup(served.Close)

	for _, gzipped := range []bool{false, true} {
		body, err := Body(h, gzipped)
		require.NoError(t, err)
		st, err := NewStatic(h, gzipped)
		require.NoError(t, err)
		assert.Equal(t, body, st.Body)
		again, err := record(h, gzipped)
		require.NoError(t, err)
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Cache-Control", "Vary", server.HeaderSummaryTime} {
			assert.Equal(t, again.Header().Values(k), st.Header.Values(k), k)
		}
		static := httptest.NewServer(st)
		t.Cleanup(static.Close)
		for _, url := range []string{served.URL + server.SummaryPath, static.URL} {
			res, err := Load(t.Context(), LoadOptions{URL: url, Clients: 4, Requests: 10, Gzip: gzipped, Timeout: time.Minute})
			require.NoError(t, err, url)
			assert.Equal(t, 10, res.Requests)
			assert.Equal(t, int64(10*len(body)), res.Bytes, "%s gzip=%t: the same bytes", url, gzipped)
			assert.LessOrEqual(t, res.P50, res.P99)
			assert.LessOrEqual(t, res.P99, res.Max)
		}
	}
}

func TestLoadFailsOnAnError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, err := Load(t.Context(), LoadOptions{URL: srv.URL, Clients: 2, Requests: 5, Timeout: time.Minute})
	assert.ErrorContains(t, err, "404")
}

func TestPercentile(t *testing.T) {
	d := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i + 1)
		}
		return out
	}
	assert.Equal(t, time.Duration(1), percentile(d(1), 50))
	assert.Equal(t, time.Duration(1), percentile(d(1), 99))
	assert.Equal(t, time.Duration(50), percentile(d(100), 50))
	assert.Equal(t, time.Duration(99), percentile(d(100), 99))
	assert.Equal(t, time.Duration(990), percentile(d(1000), 99))
	assert.Equal(t, time.Duration(2), percentile(d(3), 50))
}
