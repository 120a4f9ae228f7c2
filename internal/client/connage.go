package client

import (
	"context"
	"errors"
	"net"
	"time"
)

// errConnExpired refuses a request on a connection older than BACKEND_CONN_MAX_AGE.
var errConnExpired = errors.New("backend connection older than BACKEND_CONN_MAX_AGE")

// agingDialer dials backend connections that refuse to carry a new request once older than
// maxAge (0 = no limit). The refusal happens before a byte is written, so net/http's transport
// retries the request on a fresh connection: a partition that only blocks new connections still
// takes effect after at most maxAge.
type agingDialer struct {
	maxAge time.Duration
	dialer net.Dialer
}

// DialContext dials like net.Dialer and wraps the connection with its birth time.
func (d *agingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dialer.DialContext(ctx, network, addr)
	if err != nil || d.maxAge <= 0 {
		return c, err
	}
	return &agedConn{Conn: c, born: time.Now(), maxAge: d.maxAge}, nil
}

// agedConn is a net.Conn that knows its age. Write is only called by the transport's one write
// loop per connection, so wrote needs no lock.
type agedConn struct {
	net.Conn
	born   time.Time
	maxAge time.Duration
	wrote  bool
}

// Write refuses, and closes the connection, when a request would reuse a connection past its age.
func (c *agedConn) Write(p []byte) (int, error) {
	if c.wrote && time.Since(c.born) > c.maxAge {
		c.Conn.Close()
		return 0, errConnExpired
	}
	c.wrote = true
	return c.Conn.Write(p)
}
