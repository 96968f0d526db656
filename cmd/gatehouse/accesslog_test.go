package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestAccessLineMatchesSlog: the hand-formatted access line is what slog's
// text and JSON handlers write for the same record.
func TestAccessLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 29, 14, 3, 7, 123456789, time.UTC)
	paths := []string{"/me", "/auth/github/login", "", "/a b", "/a=b", `/a"b`, "/a\\b", "/\x00\x1f\x7f", "/caf\u00e9",
		"/\u2028\u2029", "/\xff\xfe", "/tab\there", "/<script>&", "/\u00a0nbsp", "/emoji🦫"}
	for _, format := range []string{"text", "json"} {
		for _, path := range paths {
			for _, ip := range []string{"127.0.0.1", "::1", ""} {
				var want bytes.Buffer
				rec := slog.NewRecord(at, slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("method", "GET"), slog.String("path", path), slog.Int("status", 200),
					slog.Int64("duration_ms", 3), slog.String("ip", ip))
				if err := logHandler(&want, format).Handle(context.Background(), rec); err != nil {
					t.Fatal(err)
				}
				got := appendAccessLine(nil, format == "json", at, "GET", path, 200, 3, ip)
				if string(got) != want.String() {
					t.Errorf("%s, path %q, ip %q:\n got %s\nwant %s", format, path, ip, got, want.String())
				}
			}
		}
	}
}
