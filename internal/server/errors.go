package server

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	// Code is the HTTP status code.
	Code int `json:"code"`
	// Status is the status text, such as "Not Found".
	Status string `json:"status"`
	// Message says what went wrong, in one line.
	Message string `json:"message"`
}

// WriteError answers with code and a JSON ErrorBody holding msg. Its signature
// is confighttp.WithErrorHandler's, so that the errors confighttp itself
// answers (authentication, body decompression) are JSON too.
func WriteError(w http.ResponseWriter, _ *http.Request, msg string, code int) {
	body, err := json.Marshal(ErrorBody{Code: code, Status: http.StatusText(code), Message: oneLine(msg)})
	if err != nil { // a struct of a string and an int always encodes
		body = []byte(`{"code":500,"status":"Internal Server Error","message":"encoding an error"}`)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Del("Content-Encoding")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
