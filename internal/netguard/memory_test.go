package netguard

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the bytes its connections read, so that a
// measurement can wait until the server has read what clients sent.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// inUse returns the heap and stack memory in use, after a collection.
func inUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// BenchmarkConnMemory measures what one open connection costs the process
// on loopback: heap and goroutine stacks, client and server side together,
// behind a Listener and an http.Server set up as gatehouse serve sets them
// up. Socket buffers in the kernel are not counted. Run it once:
//
//	go test -run '^$' -bench ConnMemory -benchtime 1x ./internal/netguard/
//
// "raw" is a pair of TCP endpoints with no HTTP at all, to subtract.
func BenchmarkConnMemory(b *testing.B) {
	const conns = 500
	cases := []struct {
		name string
		send string // "": nothing
		idle bool   // complete a request, then stay open
	}{
		{"raw", "", false},
		{"idle keep-alive", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n", true},
		{"slow header, request line", "GET / HTTP/1.1\r\n", false},
		{"slow header, 8KB", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\nX-Slow: " + strings.Repeat("a", 8<<10), false},
		{"slow header, 16KB", "GET / HTTP/1.1\r\nHost: gatehouse.test\r\nX-Slow: " + strings.Repeat("a", 16<<10-64), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			l, err := NewListener(inner, Config{Max: 2 * conns, ErrorBody: func(int) []byte { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			var read atomic.Int64
			counted := countingListener{l, &read}
			var held []net.Conn
			accepting := make(chan struct{})
			srv := &http.Server{
				Handler:           http.HandlerFunc(ok),
				ReadHeaderTimeout: time.Minute,
				IdleTimeout:       time.Minute,
				MaxHeaderBytes:    16 << 10,
			}
			if c.name == "raw" {
				go func() {
					defer close(accepting)
					for {
						c, err := counted.Accept()
						if err != nil {
							return
						}
						held = append(held, c)
					}
				}()
			} else {
				close(accepting)
				go srv.Serve(counted)
			}

			before := inUse()
			clients := make([]net.Conn, conns)
			for i := range clients {
				clients[i], err = net.Dial("tcp", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if c.send == "" {
					continue
				}
				if _, err := io.WriteString(clients[i], c.send); err != nil {
					b.Fatal(err)
				}
				if c.idle {
					resp, err := http.ReadResponse(bufio.NewReader(clients[i]), nil)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			want := int64(conns * len(c.send))
			deadline := time.Now().Add(10 * time.Second)
			for l.Open() != conns || read.Load() != want {
				if time.Now().After(deadline) {
					b.Fatalf("open %d, read %d: want %d, %d", l.Open(), read.Load(), conns, want)
				}
				time.Sleep(time.Millisecond)
			}
			after := inUse()
			b.ReportMetric(float64(after-before)/conns, "B/conn")

			for _, c := range clients {
				c.Close()
			}
			srv.Close()
			l.Close()
			<-accepting
			for _, c := range held {
				c.Close()
			}
		})
	}
}
