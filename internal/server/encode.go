package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/statssummary/statssummary/internal/summary"
)

// encodings are the response bodies of one snapshot, each made on first use
// and then shared by every request that serves the snapshot.
type encodings struct {
	snap  *summary.Snapshot
	forms [2]form // [0] the full Summary, [1] only CPU and memory
}

type form struct {
	jsonOnce sync.Once
	json     []byte
	jsonErr  error

	gzipOnce sync.Once
	gzip     []byte
	gzipErr  error
}

// encodingsOf returns the encodings of snap, kept for the newest snapshot
// served. An older snapshot (a request that was overtaken) gets encodings of
// its own that are not kept.
func (h *Handler) encodingsOf(snap *summary.Snapshot) *encodings {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cache != nil && h.cache.snap == snap {
		return h.cache
	}
	e := &encodings{snap: snap}
	if h.cache == nil || h.cache.snap.Seq < snap.Seq {
		h.cache = e
	}
	return e
}

// body returns the JSON of the snapshot, reduced to CPU and memory or not,
// gzipped or not.
func (e *encodings) body(h *Handler, onlyCPUAndMemory, gzipped bool) ([]byte, error) {
	f := &e.forms[0]
	if onlyCPUAndMemory {
		f = &e.forms[1]
	}
	f.jsonOnce.Do(func() {
		h.encodes.Add(1)
		s := e.snap.Assembly.Summary
		if onlyCPUAndMemory {
			s = summary.CPUAndMemory(s)
		}
		f.json, f.jsonErr = encodeSummary(s)
	})
	if f.jsonErr != nil || !gzipped {
		return f.json, f.jsonErr
	}
	f.gzipOnce.Do(func() { f.gzip, f.gzipErr = gzipBytes(f.json) })
	return f.gzip, f.gzipErr
}

// encodeSummary writes v as the kubelet does: encoding/json indented by one
// space, without a trailing newline. The stats types' own marshalling gives
// the rest (second-precision RFC 3339 times in UTC, null for a zero time,
// omitted optional blocks).
func encodeSummary(v any) ([]byte, error) {
	return json.MarshalIndent(v, "", " ")
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
