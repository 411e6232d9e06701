package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"sigs.k8s.io/randfill"

	"github.com/statssummary/statssummary/internal/summary"
)

// failingSource fails every assembly.
type failingSource struct{}

func (failingSource) Get(context.Context) (*summary.Assembly, error) {
	return &summary.Assembly{Summary: &statsapi.Summary{Pods: []statsapi.PodStats{}}},
		&summary.SourceError{Source: "cri", Err: errors.New("cri ListPodSandbox: rpc error: code = Unavailable\r\ndesc = gone\x00")}
}

// fuzzHandler is a handler over a store whose one assembly is already made.
func fuzzHandler(f *testing.F, src summary.Source) *Handler {
	f.Helper()
	store := summary.NewStore(src, summary.StoreOptions{})
	f.Cleanup(store.Close)
	if _, err := store.Get(f.Context(), 0); err != nil {
		f.Fatal(err)
	}
	h, err := NewHandler(Options{Store: store, MaxAge: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	return h
}

// FuzzServeHTTP parses arbitrary bytes as an HTTP/1.x request, as the server
// would, and serves every request that parses, against a store with a
// complete Summary and against one whose only assembly failed. It checks that
// the handler never panics, answers only 200, 400, 404, 405 or 503, always
// with JSON whose Content-Length is right and headers without line breaks; a
// 200 is a Summary (gzipped when it says so), anything else an ErrorBody with
// the same code, and a 405 says what is allowed.
func FuzzServeHTTP(f *testing.F) {
	seeds := []string{
		"GET /stats/summary HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /stats/summary?only_cpu_and_memory=true HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip;q=0.5, *;q=0\r\n\r\n",
		"GET /stats/summary?only_cpu_and_memory=%zz&a=1;b=2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"POST /stats/summary HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\nonly_cpu_and_memory=true",
		"POST /stats/summary?only_cpu_and_memory=false HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 9\r\n\r\n--x--\r\n\r\n",
		"HEAD /healthz HTTP/1.0\r\n\r\n",
		"DELETE /stats/summary HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /../stats/summary/ HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: x-gzip;q=abc\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET http://example.invalid/stats/summary?only_cpu_and_memory=TRUE HTTP/1.1\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	var full statsapi.Summary
	randfill.NewWithSeed(9).NilChance(0.2).NumElements(1, 2).Fill(&full)
	handlers := map[string]*Handler{
		"complete": fuzzHandler(f, fixedSource{&full}),
		"failed":   fuzzHandler(f, failingSource{}),
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		for name, h := range handlers {
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				return // net/http answers 400 itself before any handler runs
			}
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkAnswer(t, name, req, rec.Result())
		}
	})
}

func checkAnswer(t *testing.T, store string, req *http.Request, resp *http.Response) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", store, err)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusServiceUnavailable:
	default:
		t.Fatalf("%s: %s %q: status %d", store, req.Method, req.RequestURI, resp.StatusCode)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("%s: header %s holds a line break or NUL: %q", store, k, v)
			}
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", store, ct)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) && req.Method != http.MethodHead {
		t.Fatalf("%s: Content-Length %q for a %d-byte body", store, cl, len(body))
	}
	if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
		t.Fatalf("%s: 405 without Allow", store)
	}
	if req.Method == http.MethodHead && resp.StatusCode == http.StatusOK {
		return // healthz: headers only
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorBody
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s: error answer %d is not an ErrorBody: %v: %q", store, resp.StatusCode, err, body)
		}
		if e.Code != resp.StatusCode || e.Message == "" || strings.ContainsAny(e.Message, "\r\n\x00") {
			t.Fatalf("%s: error body %+v for status %d", store, e, resp.StatusCode)
		}
		return
	}
	if req.URL.Path == HealthzPath {
		return
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: gzip: %v", store, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: gzip: %v", store, err)
		}
	}
	var s statsapi.Summary
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("%s: 200 is not a Summary: %v", store, err)
	}
}
