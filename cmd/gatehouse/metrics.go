package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/metrics"
)

// newMetrics returns this process's registry, with the Go runtime and
// process collectors and Gatehouse's metrics in it.
func newMetrics() (*prometheus.Registry, *metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	m, err := metrics.New(reg)
	if err != nil {
		return nil, nil, err
	}
	return reg, m, nil
}

// serveMetrics serves reg at /metrics on its own listener at addr, apart
// from the API: it reveals traffic volumes, so it belongs on a private
// address. It returns a function that stops it.
func serveMetrics(addr string, reg *prometheus.Registry, log slog.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log, slog.LevelWarn)}))
	srv := newHTTPServer(mux, log)
	go srv.Serve(ln)
	logger.Info("serving metrics", "metrics_addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
