package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoundRange pairs ours and the peer by round and size: a round that
// measured only one of them is left out, and one round gives no range.
func TestRoundRange(t *testing.T) {
	line := func(size string, round int, receiver string, cpu float64) runLine {
		return runLine{Result: Result{Receiver: receiver, CPUPerScrape: cpu}, Size: size, Round: round}
	}
	runs := []runLine{
		line("110x1", 1, ours, 5), line("110x1", 1, peer, 10), // 0.50
		line("110x1", 2, ours, 6), line("110x1", 2, peer, 20), // 0.30
		line("110x1", 3, ours, 9),                             // the peer failed in round 3
		line("110x3", 1, ours, 8), line("110x3", 1, peer, 10), // another size: 0.80
		line("110x3", 2, peer, 10),
	}
	cases := map[string]string{
		"110x1":  " (0.30–0.50)",
		"110x3":  "", // one round with both
		"1000x1": "",
	}
	for size, want := range cases {
		if got := roundRange(runs, size); got != want {
			t.Errorf("roundRange(%s) = %q, want %q", size, got, want)
		}
	}
}

// TestTableRow checks a whole row: medians, their ratio, the rounds' range.
func TestTableRow(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runs.jsonl")
	data := strings.Join([]string{
		`{"size":"110x1","round":1,"receiver":"stats_summary","cpu_ms_per_scrape":4,"datapoints_per_scrape":10,"bytes_per_datapoint":400,"allocs_per_datapoint":8}`,
		`{"size":"110x1","round":1,"receiver":"kubeletstats","cpu_ms_per_scrape":10,"datapoints_per_scrape":10,"bytes_per_datapoint":900,"allocs_per_datapoint":12}`,
		`{"size":"110x1","round":2,"receiver":"stats_summary","cpu_ms_per_scrape":6,"datapoints_per_scrape":10,"bytes_per_datapoint":400,"allocs_per_datapoint":8}`,
		`{"size":"110x1","round":2,"receiver":"kubeletstats","cpu_ms_per_scrape":10,"datapoints_per_scrape":10,"bytes_per_datapoint":900,"allocs_per_datapoint":12}`,
	}, "\n")
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := table(&out, []string{file}); err != nil {
		t.Fatal(err)
	}
	// Medians 5 and 10 ms; rounds 0.40 and 0.60.
	want := "| 110 × 1 | 10 / 10 | 5.0 | 10.0 | **0.50** (0.40–0.60) | 400 / 8.0 | 900 / 12.0 |"
	if !strings.Contains(out.String(), want) {
		t.Errorf("table output lacks\n%s\ngot\n%s", want, out.String())
	}
}
