package snapshot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"sluice/internal/model"
)

// Certs selects server certificates by SNI with Kong's priority: exact name,
// then leftmost wildcard (*.example.com), then rightmost wildcard
// (example.*), then the SNI "*", then the default certificate.
type Certs struct {
	exact    map[string]*tls.Certificate
	prefixWC map[string]*tls.Certificate // "*.example.com" stored as ".example.com"
	suffixWC map[string]*tls.Certificate // "example.*" stored as "example."
	star     *tls.Certificate
	def      *tls.Certificate
	byID     map[string]parsedCert // for reuse by the next build
}

type parsedCert struct {
	updatedAt int64
	cert      *tls.Certificate
}

// Get returns the certificate for the TLS server name, or the default one.
// It never returns nil when a default certificate was configured.
func (c *Certs) Get(serverName string) *tls.Certificate {
	if c == nil {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if name != "" {
		if ct, ok := c.exact[name]; ok {
			return ct
		}
		// Leftmost wildcard: try each parent domain, longest first.
		for i := strings.IndexByte(name, '.'); i >= 0; {
			if ct, ok := c.prefixWC[name[i:]]; ok {
				return ct
			}
			j := strings.IndexByte(name[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
		// Rightmost wildcard: try each prefix ending in a dot, longest first.
		for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
			if ct, ok := c.suffixWC[name[:i+1]]; ok {
				return ct
			}
		}
	}
	if c.star != nil {
		return c.star
	}
	return c.def
}

// buildCerts indexes certificates and SNIs, reusing parsed key pairs from
// prev for certificates whose id and updated_at are unchanged.
//
// A certificate whose cert or key is a vault reference is built with the
// value secrets gives; when it cannot be resolved, the certificate is left
// out (with an error in the log) and its SNIs get the default certificate,
// as in Kong, rather than failing the build: the Admin API accepted it, and
// every later change would be refused with it.
func buildCerts(prev *Certs, certs []*model.Certificate, snis []*model.SNI, def *tls.Certificate,
	secrets func(ref string) (string, error), log *slog.Logger) (*Certs, error) {
	c := &Certs{
		exact:    map[string]*tls.Certificate{},
		prefixWC: map[string]*tls.Certificate{},
		suffixWC: map[string]*tls.Certificate{},
		def:      def,
		byID:     make(map[string]parsedCert, len(certs)),
	}
	skipped := map[string]bool{}
	for _, mc := range certs {
		if prev != nil {
			if p, ok := prev.byID[mc.ID]; ok && p.updatedAt == mc.UpdatedAt {
				c.byID[mc.ID] = p
				continue
			}
		}
		cert, key, err := certSecrets(mc, secrets)
		if err != nil {
			log.Error("certificate left out: its vault reference cannot be resolved; its SNIs get the default certificate",
				"certificate", mc.ID, "error", err)
			skipped[mc.ID] = true
			continue
		}
		kp, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil && (model.IsVaultReference(mc.Cert) || model.IsVaultReference(mc.Key)) {
			// only the PEM as written was validated; a secret from the
			// environment is checked here, and left out like an
			// unresolvable one
			log.Error("certificate left out: the PEM its vault reference resolves to is invalid; its SNIs get the default certificate",
				"certificate", mc.ID, "error", err)
			skipped[mc.ID] = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", mc.ID, err)
		}
		if mc.CertAlt != nil && mc.KeyAlt != nil {
			// Kong serves the alternate (e.g. ECDSA next to RSA) to clients
			// that support it; Go picks among Certificates by the hello via
			// GetCertificate, so keep the primary here and leave the
			// alternate to a later refinement.
			_ = mc.CertAlt
		}
		c.byID[mc.ID] = parsedCert{updatedAt: mc.UpdatedAt, cert: &kp}
	}
	add := func(name, certID string) error {
		if skipped[certID] {
			return nil
		}
		p, ok := c.byID[certID]
		if !ok {
			return fmt.Errorf("sni %q: certificate %s not found", name, certID)
		}
		name = strings.ToLower(name)
		switch {
		case name == "*":
			c.star = p.cert
		case strings.HasPrefix(name, "*."):
			c.prefixWC[name[1:]] = p.cert
		case strings.HasSuffix(name, ".*"):
			c.suffixWC[name[:len(name)-1]] = p.cert
		default:
			c.exact[name] = p.cert
		}
		return nil
	}
	for _, s := range snis {
		if s.Certificate == nil {
			return nil, fmt.Errorf("sni %q: no certificate", s.Name)
		}
		if err := add(s.Name, s.Certificate.ID); err != nil {
			return nil, err
		}
	}
	// The certificates' own snis shorthand, for configs that carry names only
	// there.
	for _, mc := range certs {
		for _, n := range mc.SNIs {
			if _, dup := c.exact[strings.ToLower(n)]; dup {
				continue
			}
			if err := add(n, mc.ID); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// SelfSignedCert makes the default certificate Kong generates when ssl_cert
// is not set: a self-signed ECDSA P-256 certificate for "localhost".
func SelfSignedCert() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"sluice"}},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// certSecrets returns a certificate's PEM cert and key, resolving vault
// references.
func certSecrets(mc *model.Certificate, secrets func(string) (string, error)) (cert, key string, err error) {
	cert, key = mc.Cert, mc.Key
	for _, v := range []*string{&cert, &key} {
		if !model.IsVaultReference(*v) {
			continue
		}
		if secrets == nil {
			return "", "", fmt.Errorf("vault reference %s: no vault configured", *v)
		}
		if *v, err = secrets(*v); err != nil {
			return "", "", err
		}
	}
	return cert, key, nil
}
