package main

import "runtime/debug"

// gcPercent is the garbage collector's target (GOGC) of `gatehouse serve`
// when the environment sets none: the heap may grow to three times what is
// live before a collection, rather than Go's default of twice. Gatehouse's
// live heap is small (a few MiB) and its requests allocate briskly, so at
// Go's default the collector ran often: about 8% of the CPU of logins and
// refreshes under load. At 200 a refresh cost about 10% less CPU
// (BenchmarkRefresh) for a few MiB more memory; see the README's
// Performance section. GOGC, and GOMEMLIMIT, set in the environment win.
const gcPercent = 200

// tuneGC sets the collector's target unless GOGC is set.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
