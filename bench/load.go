package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one scenario measured.
type result struct {
	Scenario string
	Conns    int
	// Count is the operations completed within the measured window, and
	// Elapsed that window.
	Count    int64
	Elapsed  time.Duration
	P50, P99 time.Duration
	// Errors counts failed operations (a non-200 answer, a broken
	// connection) in the warm-up and the measured window; FirstError is
	// the first of them.
	Errors     int64
	FirstError string
	// ServerCPU is the CPU time the server process used in the measured
	// window, or -1 if unknown.
	ServerCPU time.Duration
}

// CPUPerOp is the server's CPU time per operation, or 0 if unknown: the
// measure least disturbed by the load generator and whatever else shares
// the cores.
func (r result) CPUPerOp() time.Duration {
	if r.ServerCPU < 0 || r.Count == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Count)
}

// Rate is the operations per second of the measured window.
func (r result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

// Phases of a run, read by every worker before and after each operation.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// drive runs op on n workers at once, each in a loop, for warmup and then
// duration, and measures the operations that both started and ended
// within the duration. op gets its worker's number and returns an error
// for anything but the expected answer. When ctx is done the workers stop
// after their operation in flight.
// pid, if positive, is the server process whose CPU time the result reports.
func drive(ctx context.Context, name string, n int, warmup, duration time.Duration, pid int, op func(worker int) error) result {
	var phase atomic.Int32
	hists := make([]histogram, n)
	var errs atomic.Int64
	var firstErr sync.Once
	var first string
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			h := &hists[w]
			for {
				p := phase.Load()
				if p == phaseStop {
					return
				}
				t0 := time.Now()
				err := op(w)
				d := time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { first = err.Error() })
					continue
				}
				if p == phaseMeasure && phase.Load() == phaseMeasure {
					h.record(d)
				}
			}
		})
	}
	sleep(ctx, warmup)
	start := time.Now()
	cpu0 := processCPU(pid)
	phase.Store(phaseMeasure)
	sleep(ctx, duration)
	phase.Store(phaseStop)
	elapsed := time.Since(start)
	serverCPU := time.Duration(-1)
	if cpu1 := processCPU(pid); pid > 0 && cpu0 >= 0 && cpu1 >= 0 {
		serverCPU = time.Duration(cpu1-cpu0) * time.Second / clockTicks
	}
	wg.Wait()
	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	return result{Scenario: name, Conns: n, Count: all.count, Elapsed: elapsed,
		P50: all.quantile(0.50), P99: all.quantile(0.99), Errors: errs.Load(), FirstError: first, ServerCPU: serverCPU}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// histogram counts latencies in log-linear buckets, as HdrHistogram does:
// exact below 128 ns, then 64 buckets per power of two, so that a
// quantile is off by less than 1.6%, in 20 KB whatever the count.
type histogram struct {
	buckets [histBuckets]int64
	count   int64
}

const (
	subBits     = 6 // 64 buckets per power of two
	histBuckets = (64-subBits)*(1<<subBits) + 2<<subBits
)

func bucketOf(ns uint64) int {
	if ns < 2<<subBits {
		return int(ns)
	}
	shift := bits.Len64(ns) - (subBits + 1)
	return shift<<subBits + int(ns>>shift)
}

// bucketMid is the middle of bucket i's range of nanoseconds.
func bucketMid(i int) uint64 {
	if i < 2<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	low := uint64(i&(1<<subBits-1)|1<<subBits) << shift
	return low + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	h.buckets[bucketOf(uint64(max(d, 0)))]++
	h.count++
}

func (h *histogram) merge(o *histogram) {
	for i, n := range o.buckets {
		h.buckets[i] += n
	}
	h.count += o.count
}

// quantile returns the latency that a fraction q of the samples do not
// exceed.
func (h *histogram) quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := int64(q*float64(h.count-1)) + 1
	var seen int64
	for i, n := range h.buckets {
		if seen += n; seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0
}

// rawConn is one keep-alive HTTP/1.1 connection that sends prebuilt
// requests and reads the answers itself, as wrk does: no allocation per
// request beyond what the kernel needs, so that the load generator takes
// as little as possible of the cores it shares with the servers.
type rawConn struct {
	addr     string
	deadline time.Time
	conn     net.Conn
	r        *bufio.Reader
	// cookie, if set, is the name of a cookie whose value each answer's
	// Set-Cookie header may change (a rotating refresh token); the value
	// is then in setCookie.
	cookie    []byte
	setCookie string
	// lastBody is the body of the last answer that was not a 200.
	lastBody string
}

// statusError is an answer with an unexpected status.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

// roundTrip sends req and reads the answer, returning an error unless its
// status is 200. A broken connection is closed, to be dialled again by the
// next call.
func (c *rawConn) roundTrip(req []byte) error {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			time.Sleep(10 * time.Millisecond) // no busy loop on a refused dial
			return err
		}
		// One deadline for the whole run: a server that stops answering
		// fails the run instead of hanging it, at no cost per request.
		conn.SetDeadline(c.deadline)
		c.conn = conn
		if c.r == nil {
			c.r = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.r.Reset(conn)
		}
	}
	status, closing, err := c.exchange(req)
	if err != nil || closing {
		c.conn.Close()
		c.conn = nil
	}
	if err != nil {
		return err
	}
	if status != 200 {
		return &statusError{status: status, body: c.lastBody}
	}
	return nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

var (
	hContentLength    = []byte("content-length:")
	hTransferEncoding = []byte("transfer-encoding:")
	hConnection       = []byte("connection:")
	hSetCookie        = []byte("set-cookie:")
)

// exchange writes req and reads one answer: its status, whether the
// server closes the connection after it, and the body, kept in lastBody
// only when the status is not 200 (for the error message).
func (c *rawConn) exchange(req []byte) (status int, closing bool, err error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked := -1, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		switch {
		case hasPrefixFold(line, hContentLength):
			length, err = strconv.Atoi(string(bytes.TrimSpace(line[len(hContentLength):])))
			if err != nil {
				return 0, false, fmt.Errorf("malformed header %q", line)
			}
		case hasPrefixFold(line, hTransferEncoding):
			chunked = bytes.Contains(bytes.ToLower(line), []byte("chunked"))
		case hasPrefixFold(line, hConnection):
			closing = bytes.Contains(bytes.ToLower(line), []byte("close"))
		case c.cookie != nil && hasPrefixFold(line, hSetCookie):
			v := bytes.TrimSpace(line[len(hSetCookie):])
			if bytes.HasPrefix(v, c.cookie) && len(v) > len(c.cookie) && v[len(c.cookie)] == '=' {
				v = v[len(c.cookie)+1:]
				if i := bytes.IndexByte(v, ';'); i >= 0 {
					v = v[:i]
				}
				c.setCookie = string(v)
			}
		}
	}
	var body []byte
	keep := status != 200
	switch {
	case chunked:
		body, err = c.readChunked(keep)
	case length >= 0:
		body, err = c.readN(length, keep)
	default:
		// No length: the body runs to the end of the connection.
		body, err = io.ReadAll(c.r)
		closing = true
	}
	if keep {
		c.lastBody = string(bytes.TrimSpace(body))
	}
	return status, closing, err
}

func (c *rawConn) readN(n int, keep bool) ([]byte, error) {
	if keep {
		b := make([]byte, n)
		_, err := io.ReadFull(c.r, b)
		return b, err
	}
	_, err := c.r.Discard(n)
	return nil, err
}

func (c *rawConn) readChunked(keep bool) ([]byte, error) {
	var body []byte
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		size := bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, err := strconv.ParseInt(string(size), 16, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			// Trailers, if any, end with an empty line.
			for {
				line, err := c.r.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return body, nil
				}
			}
		}
		b, err := c.readN(int(n), keep)
		if err != nil {
			return nil, err
		}
		body = append(body, b...)
		if _, err := c.r.Discard(2); err != nil { // the chunk's CRLF
			return nil, err
		}
	}
}

func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}
