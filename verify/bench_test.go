package verify_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/verify"
)

// The benchmarks serve one route over a real loopback connection: with no
// authentication, behind Require with the token cache (the default), and
// behind Require without it (a signature check per request). Compare
// BenchmarkRequireCached with BenchmarkNoAuth.

func benchmarkRoute(b *testing.B, wrap func(http.Handler) http.Handler, tok string) {
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "notes\n")
	})
	app := httptest.NewServer(wrap(route))
	defer app.Close()
	client := app.Client()
	req, err := http.NewRequest(http.MethodGet, app.URL+"/notes", nil)
	if err != nil {
		b.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func benchmarkGatehouse(b *testing.B, opts ...verify.Option) (*verify.Verifier, string) {
	g := newGatehouse(b)
	return g.verifier(opts...), g.mint()
}

func BenchmarkNoAuth(b *testing.B) {
	benchmarkRoute(b, func(h http.Handler) http.Handler { return h }, "")
}

func BenchmarkRequireCached(b *testing.B) {
	v, tok := benchmarkGatehouse(b)
	benchmarkRoute(b, v.Require, tok)
}

func BenchmarkRequireUncached(b *testing.B) {
	v, tok := benchmarkGatehouse(b, verify.WithCacheSize(0))
	benchmarkRoute(b, v.Require, tok)
}
