// Package netguard bounds what clients can hold of a server's connections,
// and puts the answers net/http writes on its own, outside any handler,
// in the caller's format.
//
// A Listener caps the connections open at once: past the cap, Accept waits
// for one to close, and the kernel's backlog holds the newcomers. So that
// idle keep-alive connections do not keep the slots new clients need, it
// reports when the server is crowded; the caller then turns keep-alives off
// (http.Server.SetKeepAlivesEnabled), which also closes the idle ones.
//
// Wrap the TCP listener, not a TLS one: net/http recognises a *tls.Conn by
// its type, so a TLS listener goes around a netguard Listener.
package netguard

import (
	"errors"
	"net"
	"sync"
)

// Listener is a net.Listener that caps the connections open at once.
type Listener struct {
	inner     net.Listener
	cfg       Config
	high, low int

	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	open    int
	crowded bool
	changed chan struct{}
}

// Config configures a Listener.
type Config struct {
	// Max is the most connections open at once; it must be at least 1.
	Max int

	// Crowded, if set, is called with true when the open connections rise
	// above 90% of Max, and with false when they fall back to 75%. The
	// gap keeps it from flapping. Calls come one at a time from a goroutine
	// of the Listener's, and may close connections of the Listener.
	Crowded func(crowded bool)

	// ErrorBody, if set, returns the body that replaces the plain-text body
	// of an answer net/http writes itself, outside any handler, to a
	// request it could not read: a 431 for a header over MaxHeaderBytes,
	// a 400 for a malformed request, a 501 for an unsupported
	// Transfer-Encoding, a 505 for a version other than HTTP/1.x. status
	// is the answer's, which is kept; net/http's reason is dropped. The
	// body goes out as application/json with Content-Length,
	// Connection: close, Cache-Control: no-store and
	// X-Content-Type-Options: nosniff.
	ErrorBody func(status int) []byte
}

// NewListener returns a Listener that accepts from inner within cfg.
func NewListener(inner net.Listener, cfg Config) (*Listener, error) {
	if cfg.Max < 1 {
		return nil, errors.New("netguard: Max must be at least 1")
	}
	l := &Listener{
		inner:   inner,
		cfg:     cfg,
		high:    cfg.Max * 9 / 10,
		low:     cfg.Max * 3 / 4,
		slots:   make(chan struct{}, cfg.Max),
		done:    make(chan struct{}),
		changed: make(chan struct{}, 1),
	}
	if cfg.Crowded != nil {
		go l.watch()
	}
	return l, nil
}

// Accept waits for a free slot, then for a connection. The slot is freed
// when the connection is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.inner.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.add(1)
	return &conn{Conn: c, l: l}, nil
}

// Close closes the inner listener; an Accept waiting for a slot returns
// net.ErrClosed. Connections already accepted stay open, and Crowded is
// not called again (a call already running finishes).
//
// Close does not wait for a call of Crowded to return: http.Server closes
// its listeners holding the lock that SetKeepAlivesEnabled takes.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Open returns the number of connections accepted and not yet closed.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *Listener) add(n int) {
	l.mu.Lock()
	l.open += n
	was := l.crowded
	switch {
	case l.open > l.high:
		l.crowded = true
	case l.open <= l.low:
		l.crowded = false
	}
	now := l.crowded
	l.mu.Unlock()
	if was != now {
		select {
		case l.changed <- struct{}{}:
		default: // the watcher has a wake-up pending and reads the latest state
		}
	}
}

// watch calls Crowded as the state changes. It runs apart from add
// because Crowded may close connections, and so call add, itself.
func (l *Listener) watch() {
	told := false
	for {
		select {
		case <-l.done:
			return
		case <-l.changed:
		}
		select {
		case <-l.done:
			return
		default:
		}
		l.mu.Lock()
		crowded := l.crowded
		l.mu.Unlock()
		if crowded != told {
			told = crowded
			l.cfg.Crowded(crowded)
		}
	}
}

// conn is an accepted connection; closing it frees its slot.
type conn struct {
	net.Conn
	l         *Listener
	closeOnce sync.Once
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.l.add(-1)
		<-c.l.slots
	})
	return err
}

// Write replaces net/http's own error answers (see Config.ErrorBody) and
// passes everything else through.
func (c *conn) Write(p []byte) (int, error) {
	if c.l.cfg.ErrorBody != nil {
		if answer, ok := rewrite(p, c.l.cfg.ErrorBody); ok {
			if _, err := c.Conn.Write(answer); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection, as net/http does after a 431 so
// that the client reads the answer rather than a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
