package benchnode

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/statssummary/statssummary/internal/server"
)

// Static serves fixed bytes as the Summary, with the content headers the
// Summary handler sets and nothing else done per request: the floor of the
// JSON endpoint.
type Static struct {
	Body    []byte
	Gzipped bool // Body is gzip-encoded
}

// ServeHTTP writes Body.
func (s *Static) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	if s.Gzipped {
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(s.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.Body)
}

// Body asks h for the full Summary, gzipped or not, and returns the bytes it
// served: what a Static must serve to be compared with h.
func Body(h http.Handler, gzipped bool) ([]byte, error) {
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
	return rec.Body.Bytes(), nil
}
