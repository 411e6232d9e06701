package summary

import (
	"testing"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

type recordingFilter struct {
	read     func(uid string) bool
	sets     int
	readNows int // ReadUnreadPods calls
}

func (f *recordingFilter) SetPodFilter(read func(uid string) bool) { f.read, f.sets = read, f.sets+1 }

func (f *recordingFilter) ReadUnreadPods() cadvisor.Snapshot {
	f.readNows++
	return cadvisor.Snapshot{}
}

// reads says whether the filter reads uid (nil reads every pod).
func (f *recordingFilter) reads(uid string) bool { return f.read == nil || f.read(uid) }

func TestCgroupPlan(t *testing.T) {
	prov := Provenance{Pods: []PodProvenance{
		{UID: "fed", BlockOrigins: BlockOrigins{CPU: OriginCRI, Memory: OriginMixed}},
		{UID: "summed", BlockOrigins: BlockOrigins{CPU: OriginCAdvisor}},
		{UID: "answered", BlockOrigins: BlockOrigins{CPU: OriginCRI, Memory: OriginCRI, Network: OriginCRI, Process: OriginCRI, Swap: OriginNone, IO: OriginNone}},
		{UID: "empty"},
	}}

	t.Run("cri+fill reads what the cgroups fed, and new pods", func(t *testing.T) {
		f := &recordingFilter{}
		p := &cgroupPlan{filter: f, mode: ModeCRIFill}
		p.learn(prov, false)
		for uid, want := range map[string]bool{"fed": true, "summed": true, "answered": false, "empty": false, "new-pod": true} {
			if got := f.reads(uid); got != want {
				t.Errorf("reads %s = %v, want %v", uid, got, want)
			}
		}
	})

	t.Run("every pod every FullCgroupReadEvery assemblies", func(t *testing.T) {
		f := &recordingFilter{}
		p := &cgroupPlan{filter: f, mode: ModeCRIFill}
		full := 0
		for range 3 * FullCgroupReadEvery {
			p.learn(prov, false)
			if f.read == nil {
				full++
			} else if f.reads("answered") {
				t.Fatal("a filtered assembly reads a pod the runtime answered")
			}
		}
		if full != 3 {
			t.Errorf("%d full reads in %d assemblies, want 3", full, 3*FullCgroupReadEvery)
		}
	})

	t.Run("a runtime error reads every pod", func(t *testing.T) {
		f := &recordingFilter{}
		p := &cgroupPlan{filter: f, mode: ModeCRIFill}
		p.learn(prov, false)
		p.learn(prov, true)
		if f.read != nil {
			t.Error("after a runtime error the filter still leaves pods out")
		}
	})

	t.Run("cri mode reads no pod; cadvisor mode every pod", func(t *testing.T) {
		f := &recordingFilter{}
		p := newCgroupPlan(struct {
			CgroupStatsProvider
			*recordingFilter
		}{nil, f}, ModeCRI, false)
		p.learn(prov, false)
		if f.sets != 1 || f.reads("fed") || f.reads("new-pod") {
			t.Errorf("cri mode: %d filters set, reads fed %v", f.sets, f.reads("fed"))
		}
		g := &recordingFilter{}
		q := newCgroupPlan(struct {
			CgroupStatsProvider
			*recordingFilter
		}{nil, g}, ModeCAdvisor, false)
		q.learn(prov, false)
		if g.sets != 0 {
			t.Errorf("cadvisor mode set a filter %d times", g.sets)
		}
		// The identity plan leaves every pod to its cgroup: cri+cadvisor
		// then reads every pod too, whatever the runtime answered.
		h := &recordingFilter{}
		r := newCgroupPlan(struct {
			CgroupStatsProvider
			*recordingFilter
		}{nil, h}, ModeCRIFill, true)
		r.learn(prov, false)
		if h.sets != 0 {
			t.Errorf("cri+cadvisor mode under the identity plan set a filter %d times", h.sets)
		}
	})

	t.Run("a provider without a filter is left alone", func(t *testing.T) {
		p := newCgroupPlan(fakeCgroups{}, ModeCRIFill, false)
		p.learn(prov, false) // must not panic
		if p.filter != nil {
			t.Error("fakeCgroups has no SetPodFilter")
		}
	})
}

// TestCgroupPlanReadsNowWhenThePathChanges: an assembly whose stats path
// differs from the previous one's reads the unread pods at once, in the cri+
// cadvisor mode only; the first assembly and a failed one (no path) do not.
func TestCgroupPlanReadsNowWhenThePathChanges(t *testing.T) {
	f := &recordingFilter{}
	p := &cgroupPlan{filter: f, mode: ModeCRIFill}
	for i, step := range []struct {
		path cri.StatsPath
		want int // cumulative ReadUnreadPods calls
	}{
		{cri.PathStrict, 0}, {cri.PathStrict, 0}, {cri.PathPartial, 1}, {"", 1}, {cri.PathPartial, 1}, {cri.PathStrict, 2},
	} {
		p.readNowIfPathChanged(step.path, cadvisor.Snapshot{})
		if f.readNows != step.want {
			t.Fatalf("step %d (%q): %d reads now, want %d", i, step.path, f.readNows, step.want)
		}
	}
	g := &recordingFilter{}
	q := &cgroupPlan{filter: g, mode: ModeCAdvisor}
	q.readNowIfPathChanged(cri.PathStrict, cadvisor.Snapshot{})
	q.readNowIfPathChanged(cri.PathPartial, cadvisor.Snapshot{})
	if g.readNows != 0 {
		t.Errorf("cadvisor mode (every pod read anyway) read now %d times", g.readNows)
	}
}
