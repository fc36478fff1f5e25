package snapshot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/upstream"
)

// pemCert makes a self-signed certificate for cn and returns it as PEM.
func pemCert(t testing.TB, cn string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

func cnOf(t *testing.T, c *tls.Certificate) string {
	t.Helper()
	if c == nil {
		return "<nil>"
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestCertsSelection(t *testing.T) {
	var certs []*model.Certificate
	var snis []*model.SNI
	for i, name := range []string{"a.test", "*.b.test", "c.*", "*"} {
		cp, kp := pemCert(t, name)
		id := string(rune('1'+i)) + "0000000-0000-4000-8000-000000000000"
		certs = append(certs, &model.Certificate{ID: id, Cert: cp, Key: kp, UpdatedAt: 1})
		snis = append(snis, &model.SNI{ID: "s" + id, Name: name, Certificate: &model.ForeignKey{ID: id}})
	}
	def, err := SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	c, err := buildCerts(nil, certs, snis, def, nil, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ sni, want string }{
		{"a.test", "a.test"},
		{"A.TEST.", "a.test"},
		{"x.b.test", "*.b.test"},
		{"y.x.b.test", "*.b.test"},
		{"c.example", "c.*"},
		{"c.example.org", "c.*"},
		{"unknown.test", "*"},
		{"", "*"},
	}
	for _, tt := range tests {
		if got := cnOf(t, c.Get(tt.sni)); got != tt.want {
			t.Errorf("Get(%q) = %s; want %s", tt.sni, got, tt.want)
		}
	}

	// Without the "*" SNI, unknown names get the default certificate.
	c2, err := buildCerts(c, certs[:3], snis[:3], def, nil, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if got := cnOf(t, c2.Get("unknown.test")); got != "localhost" {
		t.Errorf("default cert CN = %s; want localhost", got)
	}
	// Unchanged certificates are reused, not parsed again.
	if c2.Get("a.test") != c.Get("a.test") {
		t.Error("unchanged certificate was not reused by pointer")
	}
}

func TestBuildRejectsDanglingSNI(t *testing.T) {
	cfg := &model.Config{SNIs: []*model.SNI{{Name: "x.test", Certificate: &model.ForeignKey{ID: "missing"}}}}
	if _, err := Build(nil, cfg, "h", &Env{Pool: upstream.NewPool()}); err == nil {
		t.Fatal("Build accepted an SNI whose certificate does not exist")
	}
}
