package benchnode

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/statssummary/statssummary/internal/server"
)

// Static replays a recorded response: the same header fields and body bytes
// the Summary handler sent, and nothing else done per request. It is the
// floor of the JSON endpoint.
type Static struct {
	Header http.Header // set as is; not modified
	Body   []byte
}

// NewStatic records h's answer to a request for the full Summary, gzipped or
// not.
func NewStatic(h http.Handler, gzipped bool) (*Static, error) {
	rec, err := record(h, gzipped)
	if err != nil {
		return nil, err
	}
	return &Static{Header: rec.Header().Clone(), Body: rec.Body.Bytes()}, nil
}

// ServeHTTP writes the recorded header fields and body.
func (s *Static) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	hdr := w.Header()
	for k, v := range s.Header {
		hdr[k] = v
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.Body)
}

// Body asks h for the full Summary, gzipped or not, and returns the bytes it
// served.
func Body(h http.Handler, gzipped bool) ([]byte, error) {
	rec, err := record(h, gzipped)
	if err != nil {
		return nil, err
	}
	return rec.Body.Bytes(), nil
}

func record(h http.Handler, gzipped bool) (*httptest.ResponseRecorder, error) {
	req := httptest.NewRequest(http.MethodGet, server.SummaryPath, http.NoBody)
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("benchnode: summary handler answered %d: %s", rec.Code, rec.Body.Bytes())
	}
	if got := rec.Header().Get("Content-Encoding") == "gzip"; got != gzipped {
		return nil, fmt.Errorf("benchnode: summary handler gzipped=%t, asked %t", got, gzipped)
	}
	if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want {
		return nil, fmt.Errorf("benchnode: summary handler sent Content-Length %s for %s bytes", got, want)
	}
	return rec, nil
}
