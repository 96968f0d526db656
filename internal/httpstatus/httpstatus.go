// Package httpstatus records the status code a handler answers with, for
// the middleware that logs or counts requests.
package httpstatus

import "net/http"

// Writer is an http.ResponseWriter that remembers the status code written
// through it: the first WriteHeader's, or 200 at the first Write.
type Writer struct {
	http.ResponseWriter
	// Status is the status code written, or 0 if none was yet.
	Status int
}

// WriteHeader records code, if it is the first, and passes it on.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 if no status was written yet, and passes b on.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
