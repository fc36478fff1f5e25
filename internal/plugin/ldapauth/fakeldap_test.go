package ldapauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FakeLDAP is a tiny LDAP server for tests: it answers simple binds
// (success for the DN/password pairs added with AddUser, 49 otherwise), the
// StartTLS extended operation when StartTLS is set, and speaks TLS from
// the first byte when started with LDAPS. It counts what it receives.
type FakeLDAP struct {
	Host string
	Port int
	// StartTLS accepts the StartTLS extended operation.
	StartTLS atomic.Bool
	// Garbage answers binds with a SearchResultDone, which is not the
	// answer to a bind.
	Garbage atomic.Bool
	// Roots trusts the server's certificate (for "localhost" and
	// 127.0.0.1).
	Roots *x509.CertPool

	Binds     atomic.Int64 // BindRequests received
	Conns     atomic.Int64 // connections accepted
	StartTLSs atomic.Int64 // StartTLS requests accepted

	ln    net.Listener
	tls   *tls.Config
	mu    sync.Mutex
	users map[string]string // bind DN to password
	code  func(dn, password string) int
	hold  chan struct{}
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// AddUser lets dn bind with password.
func (s *FakeLDAP) AddUser(dn, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[dn] = password
}

// SetCode makes f decide the result code of each bind (nil: the users).
func (s *FakeLDAP) SetCode(f func(dn, password string) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code = f
}

// Hold makes binds wait until the returned channel is closed.
func (s *FakeLDAP) Hold() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = make(chan struct{})
	return s.hold
}

// resultCode is the answer to a bind of dn with password.
func (s *FakeLDAP) resultCode(dn, password string) int {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.code != nil {
		return s.code(dn, password)
	}
	if want, ok := s.users[dn]; ok && want == password {
		return 0
	}
	return 49
}

// NewFakeLDAP starts a server on 127.0.0.1; ldaps makes it a TLS
// listener. It is closed by t.Cleanup.
func NewFakeLDAP(t testing.TB, ldaps bool) *FakeLDAP {
	t.Helper()
	cert, roots := selfSigned(t)
	s := &FakeLDAP{users: map[string]string{}, Roots: roots, conns: map[net.Conn]bool{},
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if ldaps {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is host:port.
func (s *FakeLDAP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Close stops the server and closes its connections.
func (s *FakeLDAP) Close() {
	_ = s.ln.Close()
	s.DropConns()
	s.wg.Wait()
}

// DropConns closes every open connection (the server side of idle pooled
// connections, for instance).
func (s *FakeLDAP) DropConns() {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
}

func (s *FakeLDAP) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.Conns.Add(1)
		s.track(c, true)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *FakeLDAP) track(c net.Conn, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.conns[c] = true
	} else {
		delete(s.conns, c)
	}
}

// handle answers the requests of one connection until it closes.
func (s *FakeLDAP) handle(c net.Conn) {
	defer func() {
		s.track(c, false)
		_ = c.Close()
	}()
	for {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		msg, err := readMessage(c)
		if err != nil {
			return
		}
		id, op, err := decodeRequest(msg)
		if err != nil {
			return
		}
		switch op.tag {
		case tagBindRequest:
			dn, pw, err := decodeBind(op.content)
			if err != nil {
				return
			}
			s.Binds.Add(1)
			opTag := byte(tagBindResponse)
			if s.Garbage.Load() {
				opTag = 0x65
			}
			code := s.resultCode(dn, pw)
			if _, err := c.Write(answer(id, opTag, code, "fake diagnostic")); err != nil {
				return
			}
		case tagExtendedRequest:
			name, _, err := readElement(op.content)
			if err != nil || name.tag != tagRequestName || string(name.content) != startTLSOID || !s.StartTLS.Load() {
				_, _ = c.Write(answer(id, tagExtendedResponse, 2, "unsupported"))
				continue
			}
			if _, err := c.Write(answer(id, tagExtendedResponse, 0, "")); err != nil {
				return
			}
			s.StartTLSs.Add(1)
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			s.track(c, false)
			s.track(tc, true)
			c = tc
		default: // UnbindRequest and anything else end the connection
			return
		}
	}
}

// decodeRequest reads an LDAPMessage's messageID and protocolOp.
func decodeRequest(msg []byte) (int32, element, error) {
	seq, _, err := readElement(msg)
	if err != nil {
		return 0, element{}, err
	}
	idEl, rest, err := readElement(seq.content)
	if err != nil {
		return 0, element{}, err
	}
	id, err := integer(idEl.content)
	if err != nil {
		return 0, element{}, err
	}
	op, _, err := readElement(rest)
	return int32(id), op, err
}

// decodeBind reads the name and simple password of a BindRequest
// (version 3 required).
func decodeBind(b []byte) (dn, password string, err error) {
	v, rest, err := readElement(b)
	if err != nil {
		return "", "", err
	}
	if n, err := integer(v.content); err != nil || v.tag != tagInteger || n != 3 {
		return "", "", protocolError("not LDAPv3")
	}
	name, rest, err := readElement(rest)
	if err != nil {
		return "", "", err
	}
	auth, _, err := readElement(rest)
	if err != nil {
		return "", "", err
	}
	if name.tag != tagOctetString || auth.tag != tagSimpleAuth {
		return "", "", protocolError("not a simple bind")
	}
	return string(name.content), string(auth.content), nil
}

// answer encodes an LDAPResult-based response.
func answer(id int32, opTag byte, code int, diag string) []byte {
	var op []byte
	op = appendInt(op, tagEnumerated, int32(code))
	op = appendString(op, tagOctetString, "")
	op = appendString(op, tagOctetString, diag)
	return message(id, opTag, op)
}

// selfSigned makes a certificate for localhost and 127.0.0.1 and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake ldap"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
