package ldapauth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"syscall"
	"time"
)

// outcome is what a bind attempt tells the plugin.
type outcome int

const (
	// bindSucceeded: the server accepted the DN and password.
	bindSucceeded outcome = iota
	// bindRejected: the server answered with another result code (49
	// invalidCredentials, 32 noSuchObject, ...). Kong answers 401 and
	// caches the refusal.
	bindRejected
	// bindBroken: the TLS handshake failed or the answer made no sense.
	// Kong answers 401 for these too; the plugin does not cache them.
	bindBroken
	// bindFailed: the server could not be reached or the connection
	// failed (connect, StartTLS, read, write, timeout). Kong answers 500.
	bindFailed
)

// mode is how the connection is secured.
type mode int

const (
	modePlain    mode = iota
	modeLDAPS         // TLS from the first byte
	modeStartTLS      // StartTLS extended operation, then TLS
)

// client binds against one LDAP server.
type client struct {
	addr    string // host:port
	mode    mode
	tls     *tls.Config
	timeout time.Duration // connect, and each request/answer exchange
	pool    *connPool
	// binds bounds the binds in progress (hence the connections open) of
	// one instance: a flood of unknown credentials waits here rather than
	// opening a connection each on the directory.
	binds chan struct{}
}

// MaxBinds is how many binds an instance runs at once.
const MaxBinds = 32

var errBusy = errors.New("too many LDAP binds in progress")

// conn is a connection with its next messageID.
type conn struct {
	net.Conn
	nextID    int32
	idleTimer *time.Timer // set while the connection waits in the pool
}

func (c *conn) newID() int32 {
	id := c.nextID
	if c.nextID == math.MaxInt32 {
		c.nextID = 1
	} else {
		c.nextID++
	}
	return id
}

// bind checks dn and password with a simple bind. An idle connection is
// reused when there is one; if it turns out to be dead, the bind is tried
// once more on a new connection.
func (cl *client) bind(dn, password string) (outcome, error) {
	if len(dn)+len(password) > maxMessage-32 { // 32: room for the BER framing
		return bindBroken, errTooLarge
	}
	if cl.binds != nil {
		wait := time.NewTimer(cl.timeout)
		select {
		case cl.binds <- struct{}{}:
			wait.Stop()
			defer func() { <-cl.binds }()
		case <-wait.C:
			return bindFailed, errBusy
		}
	}
	if cn := cl.pool.get(); cn != nil {
		out, err := cl.bindOn(cn, dn, password)
		if out != bindFailed || !closedByServer(err) {
			cl.release(cn, out)
			return out, err
		}
		// The server closed the idle connection before reading the bind:
		// try once on a new one. A timeout is not retried, since the
		// server may have seen the password (a second try would count
		// twice towards a lockout).
		_ = cn.Close()
	}
	cn, out, err := cl.connect()
	if err != nil {
		return out, err
	}
	out, err = cl.bindOn(cn, dn, password)
	cl.release(cn, out)
	return out, err
}

// release keeps a connection whose last exchange went well, closes others.
func (cl *client) release(cn *conn, out outcome) {
	if out == bindSucceeded || out == bindRejected {
		cl.pool.put(cn)
		return
	}
	_ = cn.Close()
}

// connect opens a connection and secures it as configured. On error, the
// outcome says how the plugin answers (bindFailed or bindBroken).
func (cl *client) connect() (*conn, outcome, error) {
	d := net.Dialer{Timeout: cl.timeout}
	nc, err := d.Dial("tcp", cl.addr)
	if err != nil {
		return nil, bindFailed, fmt.Errorf("failed to connect to %s: %w", cl.addr, err)
	}
	cn := &conn{Conn: nc, nextID: 1}
	if cl.mode == modeStartTLS {
		if err := cl.startTLS(cn); err != nil {
			_ = nc.Close()
			return nil, bindFailed, fmt.Errorf("StartTLS with %s: %w", cl.addr, err)
		}
	}
	if cl.mode != modePlain {
		tc := tls.Client(nc, cl.tls)
		if err := nc.SetDeadline(time.Now().Add(cl.timeout)); err != nil {
			_ = nc.Close()
			return nil, bindFailed, err
		}
		if err := tc.Handshake(); err != nil {
			_ = nc.Close()
			return nil, bindBroken, fmt.Errorf("failed to do SSL handshake with %s: %w", cl.addr, err)
		}
		cn.Conn = tc
	}
	return cn, bindSucceeded, nil
}

// startTLS asks the server to start TLS and waits for its agreement.
func (cl *client) startTLS(cn *conn) error {
	id := cn.newID()
	r, err := cl.exchange(cn, id, startTLSRequest(id), tagExtendedResponse)
	if err != nil {
		return err
	}
	if r.resultCode != resultSuccess {
		return &resultError{code: r.resultCode, diagnostic: r.diagnostic}
	}
	return nil
}

// bindOn sends one BindRequest on cn and classifies the answer.
func (cl *client) bindOn(cn *conn, dn, password string) (outcome, error) {
	id := cn.newID()
	r, err := cl.exchange(cn, id, bindRequest(id, dn, password), tagBindResponse)
	var pe protocolError
	switch {
	case errors.As(err, &pe):
		return bindBroken, err
	case err != nil:
		return bindFailed, err
	case r.resultCode != resultSuccess:
		return bindRejected, &resultError{code: r.resultCode, diagnostic: r.diagnostic}
	}
	return bindSucceeded, nil
}

// exchange writes req, whose messageID is id, and reads the answer to it,
// which must be an operation with tag want. A Notice of Disconnection (messageID 0) is an
// I/O error: the server is closing the connection.
func (cl *client) exchange(cn *conn, id int32, req []byte, want byte) (response, error) {
	if err := cn.SetDeadline(time.Now().Add(cl.timeout)); err != nil {
		return response{}, err
	}
	if _, err := cn.Write(req); err != nil {
		return response{}, err
	}
	msg, err := readMessage(cn)
	if err != nil {
		return response{}, err
	}
	r, err := parseResponse(msg)
	switch {
	case err != nil:
		return r, err
	case r.id == 0:
		return r, fmt.Errorf("ldap: server closed the connection: %w", &resultError{code: r.resultCode, diagnostic: r.diagnostic})
	case r.id != int64(id):
		return r, protocolError(fmt.Sprintf("answer to message %d, expected %d", r.id, id))
	case r.op != want:
		return r, protocolError(fmt.Sprintf("received operation 0x%02x, expected 0x%02x", r.op, want))
	}
	return r, nil
}

// closedByServer reports whether err says the connection was gone (closed
// or reset by the peer) rather than slow.
func closedByServer(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}
