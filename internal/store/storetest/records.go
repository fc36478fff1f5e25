package storetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sluice/internal/model"
	"sluice/internal/store"
)

// Record builds a stored record the way the Admin API does: the input goes
// through the entity's schema (defaults, normalisation), then the id,
// timestamps and generated values are filled.
func Record(t testing.TB, entity string, in map[string]any) store.Record {
	t.Helper()
	s, ok := model.Lookup(entity)
	if !ok {
		t.Fatalf("unknown entity %q", entity)
	}
	rec, serr := s.Process(in, nil)
	if serr != nil {
		t.Fatalf("%s input %v: %v", entity, in, serr)
	}
	rec = s.Generated(rec)
	if rec["id"] == nil {
		rec["id"] = uuid.NewString()
	}
	now := time.Now()
	for _, f := range s.Fields {
		if !f.Timestamp {
			continue
		}
		if f.Type == model.TypeNumber {
			rec[f.Name] = float64(now.UnixMilli()) / 1000
		} else {
			rec[f.Name] = now.Unix()
		}
	}
	return rec
}

// ref is a foreign value.
func ref(rec store.Record) map[string]any { return map[string]any{"id": rec["id"]} }

var (
	certOnce sync.Once
	certPEM  string
	keyPEM   string
)

// testCert returns a self-signed certificate (also valid as a CA) and its
// key in PEM, the same for every call.
func testCert(t testing.TB) (string, string) {
	t.Helper()
	certOnce.Do(func() { certPEM, keyPEM = newCert(t) })
	return certPEM, keyPEM
}

// newCert makes a new self-signed CA certificate and its key in PEM.
func newCert(t testing.TB) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "example.com"},
		DNSNames:              []string{"example.com"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// normal renders v as JSON and back, so that records compare by value
// whatever numeric types they were built with.
func normal(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
